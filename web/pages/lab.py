"""The policy lab for managers: start a simulation of generated or real orders under the chosen
dispatch policies, watch its progress, read its report (docs/simulation.md)."""

from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_babel import lazy_gettext as _l

from core.errors import ValidationFailed
from simulation.lab import RATES
from simulation.scenario import Model
from web.auth import current_actor, roles_required
from web.extensions import db
from web.forms import POLICY_LABELS, LabForm, apply_errors
from web.lab_runs import lab_runs, request_from
from web.pages.base import bp

LAB_ROLES = ("admin", "manager")
# The figures of the report's table, in the order a manager reads them (24-hour completion first).
ROWS = (
    "completion_24h_rate", "compliance_rate", "authenticity_rate", "satisfaction_rate", "lateness_mean_min",
    "lateness_p95_min", "km", "overtime_hours", "utilisation", "orders_per_technician", "unassigned_at_day_end",
    "failed_visits", "orders",
)  # fmt: skip
FIGURE_NAMES = {
    "completion_24h_rate": _l("24-hour completion"),
    "compliance_rate": _l("Compliance"),
    "authenticity_rate": _l("Authenticity"),
    "satisfaction_rate": _l("Satisfaction (not simulated)"),
    "lateness_mean_min": _l("Lateness, mean (minutes)"),
    "lateness_p95_min": _l("Lateness, 95th percentile (minutes)"),
    "km": _l("Kilometres driven"),
    "overtime_hours": _l("Overtime (hours)"),
    "utilisation": _l("Utilisation"),
    "orders_per_technician": _l("Orders completed per technician"),
    "unassigned_at_day_end": _l("Orders unassigned at a day's end (mean)"),
    "failed_visits": _l("Failed visits (customer out)"),
    "orders": _l("Orders"),
}
# The table's column heads: short enough for a phone (the full name is their title).
SHORT_LABELS = {
    "baseline": _l("Today's practice"),
    "instant": _l("Instant placement"),
    "reoptimise": _l("Instant + re-planning"),
    "auto": _l("Automatic"),
}


@bp.route("/lab", methods=["GET", "POST"])
@roles_required(*LAB_ROLES)
def lab():
    """The form that starts a run, and the runs of this server."""
    form = LabForm()
    if form.validate_on_submit():
        values = {
            k: form.data[k]
            for k in ("policies", "days", "seeds", "technicians", "orders_per_day", "promise_hours", "horizon_days")
        }
        values["from"] = form.period_from.data
        start, end = form.shift_start.data, form.shift_end.data
        try:
            if (start is None) != (end is None):
                raise ValidationFailed({"shift_end" if end is None else "shift_start": "give both ends of the shift, or neither"})  # fmt: skip
            if start is not None and start >= end:
                raise ValidationFailed({"shift_end": "must be after the shift starts"})
            if start is not None:
                values["shift"] = f"{start:%H:%M}-{end:%H:%M}"
            actor = current_actor()
            run = lab_runs().start(request_from(values, db.session, actor.outlet_id), actor.user_id)
        except ValidationFailed as exc:
            apply_errors(form, exc)
        else:
            return redirect(url_for("pages.lab_run", run_id=run.id))
    status = 400 if form.errors or form.form_errors else 200
    return render_template(
        "lab.html", form=form, runs=lab_runs().recent(), policy_labels=dict(POLICY_LABELS), modelled=_modelled()
    ), status


@bp.get("/lab/runs/<int:run_id>")
@roles_required(*LAB_ROLES)
def lab_run(run_id: int):
    """One run: its progress while it runs, then its report."""
    run = lab_runs().get(run_id)
    return render_template(
        "lab_run.html",
        run=run,
        report=run.report,
        rows=ROWS,
        rates=RATES,
        names=FIGURE_NAMES,
        policy_labels=dict(POLICY_LABELS),
        short_labels=SHORT_LABELS,
        bars=bars(run.report) if run.report else None,
    )


def bars(report: dict) -> dict[str, list[dict]]:
    """The pictures' data (web/static/lab.js) for the 24-hour rate and the km: per policy and the
    hindsight bound its name, label in the user's language, mean and cut 95 % interval."""
    labels = {**dict(POLICY_LABELS), "hindsight": _l("Hindsight bound")}
    out = {}
    for figure in ("completion_24h_rate", "km"):
        items = [(p["name"], p["figures"][figure]) for p in report["policies"]]
        items.append(("hindsight", report["hindsight"][figure]))
        out[figure] = [
            {"name": name, "label": str(SHORT_LABELS.get(name, labels.get(name, name))), "mean": v["mean"],
             "low": v.get("low"), "high": v.get("high"), "ci": v["ci"]}
            for name, v in items
        ]  # fmt: skip
    return out


def _modelled() -> dict[str, float | int]:
    """The outlet model's own values, shown in the empty what-if fields."""
    model = Model.load()
    return {
        "technicians": model.outlets[0].technicians,
        "orders_per_day": f"{model.orders_per_day:g}",
        "horizon_days": model.horizon_days,
    }
