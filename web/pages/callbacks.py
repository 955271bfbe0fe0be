"""The review clerk's callbacks (回访): the queue of orders completed some days ago without a
survey answer, and for each the script, the customer's history and the callback form. The
outcome (close, return for a second visit, retry later) is dispatch.customer.record_callback's."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, HiddenField, RadioField, SelectField, SelectMultipleField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from core.db import utcnow
from core.errors import Conflict, DomainError, ValidationFailed
from core.numbers import parse_int
from dispatch import customer, moves, queries
from dispatch.lifecycle import Status
from web.auth import CLERKS, current_actor, roles_required
from web.extensions import db
from web.forms import apply_errors
from web.labels import CALLBACK_PROBLEM
from web.pages.base import bp

PER_PAGE = 20

PROBLEMS = CALLBACK_PROBLEM


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CallbackForm(FlaskForm):
    version = HiddenField(validators=[InputRequired()])
    reached = RadioField(
        _l("Reached the customer?"),
        choices=[SelectChoice("yes", _l("Reached")), SelectChoice("no", _l("Not reached"))],
        validators=[InputRequired(_l("Say whether the customer was reached."))],
    )
    resolved = SelectField(
        _l("Is the problem solved?"),
        choices=[
            SelectChoice("", "—"),
            SelectChoice("yes", _l("Yes, solved")),
            SelectChoice("no", _l("No, not solved")),
        ],
        validators=[Optional()],
    )
    score = SelectField(
        _l("Satisfaction (1–5)"),
        choices=[SelectChoice("", "—"), *(SelectChoice(str(i), str(i)) for i in range(5, 0, -1))],
        validators=[Optional()],
    )
    problems = CheckboxesField(
        _l("Procedure problems found"),
        choices=[SelectChoice(code, label) for code, label in PROBLEMS.items()],
        validators=[Optional()],
    )
    retry_at = DateTimeLocalField(_l("Not reached: try again at (empty: in 4 hours)"), validators=[Optional()])
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=2000)])


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name, "")
    return parse_int(value, 1, 99_999) or default


def _after_days() -> float:
    try:
        days = float(request.args.get("after_days", "3"))
    except ValueError:
        return 3.0
    return days if 0 <= days <= 30 else 3.0


@bp.get("/callbacks")
@roles_required(*CLERKS)
def callbacks():
    """Orders of the clerk's outlet due a callback, longest waiting first."""
    after_days = _after_days()
    page = customer.callback_queue(
        db.session, utcnow(), after_days, _int_arg("page", 1), PER_PAGE, actor=current_actor()
    )
    return render_template("callbacks.html", page=page, after_days=after_days, now=utcnow())


def _render(order_id: int, form: CallbackForm, status: int = 200):
    actor = current_actor()
    try:
        order = moves.get_order(db.session, order_id, actor)  # 404 outside the clerk's outlet
        file = queries.customer_file(db.session, actor, order.customer_id)
    except DomainError:
        abort(404)
    if not form.is_submitted():
        form.version.data = str(order.version)
    return (
        render_template(
            "callback_detail.html",
            order=order,
            file=file,
            form=form,
            problems=PROBLEMS,
            can_call=order.status == Status.COMPLETED,
        ),  # fmt: skip
        status,
    )


@bp.get("/callbacks/<int:order_id>")
@roles_required(*CLERKS)
def callback_detail(order_id: int):
    """The script, the customer's history and the callback form for one order."""
    return _render(order_id, CallbackForm())


@bp.post("/callbacks/<int:order_id>")
@roles_required(*CLERKS)
def callback_record(order_id: int):
    """Record the callback: closed, returned for a second visit, or retried later."""
    form = CallbackForm()
    if not form.validate_on_submit():
        return _render(order_id, form, 400)
    version = parse_int(form.version.data, 1)
    if version is None:
        form.form_errors.append(_("The form is out of date: reload the page."))
        return _render(order_id, form, 400)
    retry_at = form.retry_at.data.replace(tzinfo=current_app.config["TIMEZONE"]) if form.retry_at.data else None
    try:
        order = customer.record_callback(
            db.session, order_id, current_actor(), version=version,
            reached=form.reached.data == "yes", resolved={"yes": True, "no": False}.get(form.resolved.data),
            score=int(form.score.data) if form.score.data else None, problems=form.problems.data or [],
            note=form.note.data or "", retry_at=retry_at,
        )[1]  # fmt: skip
    except ValidationFailed as exc:
        apply_errors(form, exc)
        return _render(order_id, form, 400)
    except Conflict as exc:
        flash(_(exc.message), "error")
        return _render(order_id, form, 409)
    outcome = {
        Status.CLOSED: _("Callback recorded: %(number)s is closed.", number=order.number),
        Status.RETURNED: _("Callback recorded: %(number)s goes back to the technician for a second visit.", number=order.number),
    }.get(order.status, _("Callback recorded: %(number)s will come back to the queue for another try.", number=order.number))  # fmt: skip
    flash(outcome, "info")
    return redirect(url_for("pages.callbacks"))
