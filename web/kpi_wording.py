"""The KPI report's words: figure names and risk signs in the user's language, each sign
linked to the drill-down with the orders behind it (the KPI page and the API both use them;
the signs themselves come from `dispatch.kpis.report`)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from dispatch.kpis import Reason, RiskSign
from dispatch.kpis.report import DRILL_OF
from web.labels import AUTHENTICITY_REASONS, SEVERITY, STATUS, VERDICT

FIGURE_LABELS = {
    "completion_24h_rate": _l("24-hour completion"), "satisfaction_rate": _l("Satisfaction"),
    "compliance_rate": _l("Compliance"), "authenticity_rate": _l("Authenticity"), "return_rate": _l("Returns"),
    "repeat_rate": _l("Repeat repairs"),
}  # fmt: skip


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


class RiskWording:
    """Risk signs worded in the user's language and linked to the orders behind them.

    Made once per request: a month at 2,000 technicians can show ten thousand signs, and
    asking Babel and the URL map for each one took seconds.
    """

    def __init__(self, month: str) -> None:
        self.month = month
        self.drill = url_for("pages.kpi_orders_page")
        self.labels = {name: str(label) for name, label in FIGURE_LABELS.items()}
        self.templates = {
            "below": _("%(figure)s %(value)s, below %(limit)s"),
            "above": _("%(figure)s %(value)s, above %(limit)s"),
            "fell": _("%(figure)s fell %(points)s points since last month"),
            "rose": _("%(figure)s rose %(points)s points since last month"),
        }

    def describe(self, sign: RiskSign) -> str:
        return self.templates[sign.kind] % {
            "figure": self.labels[sign.figure], "value": _pct(sign.value), "limit": _pct(sign.limit),
            "points": f"{100 * sign.value:.0f}",
        }  # fmt: skip

    def reasons(self, key: int | None, signs: list[RiskSign], by: str) -> list[dict[str, Any]]:
        """A team's risk signs, each worded and linked to its drill-down."""
        query = f"?month={self.month}&{by}_id={key}&kpi="
        return [
            {"figure": sign.figure, "kind": sign.kind, "text": self.describe(sign),
             "url": self.drill + query + DRILL_OF[sign.figure]}
            for sign in signs
        ]  # fmt: skip


# The drill-down's reasons (dispatch.kpis.REASON_TEXT), the same English as msgids.
REASON_LABELS = {
    "not_completed": _l("not completed (%(status)s)"),
    "completed_late": _l("completed after %(hours).1f h"),
    "proof_not_accepted": _l("proof not accepted"),
    "not_satisfied": _l("customer not satisfied (score below 4)"),
    "not_contacted_in_time": _l("customer not contacted in time"),
    "no_checkin_position": _l("no on-site check-in with a position"),
    "no_proof_photo": _l("no proof photo"),
    "returned": _l("returned as unqualified"),
    "no_verdict": _l("no verdict"),
    "verdict": _l("verdict: %(status)s"),
    "rejected_by_reviewer": _l("rejected by a reviewer"),
    "repaired_again": _l("repaired again: %(number)s, %(days)s days after completion"),
    "within_24h": _l("still within its 24 hours"),
    "awaiting_score": _l("awaiting the customer's score"),
    "repair_pending": _l("still within its %(days)s days"),
    "waited_for_parts": _l("waited %(hours).1f h for a part"),
}


# A reason without its values: a group heading, a filter choice.
GROUP_LABELS = REASON_LABELS | {
    "not_completed": _l("not completed"),
    "completed_late": _l("completed after 24 h"),
    "verdict": _l("proof not verified"),
    "repaired_again": _l("repaired again within 30 days"),
    "repair_pending": _l("still within its 30 days"),
    "waited_for_parts": _l("waited for a part"),
}


class ReasonWording:
    """Drill-down reasons in the user's language: the KPI's own reasons, the authenticity
    engine's codes as the review pages word them, statuses and verdicts through their labels.
    Made once per request, like `RiskWording`."""

    def __init__(self) -> None:
        self.templates = {code: str(label) for code, label in REASON_LABELS.items()}
        self.groups = {code: str(label) for code, label in GROUP_LABELS.items()}
        self.engine = {code: str(label) for code, label in AUTHENTICITY_REASONS.items()}
        self.severity = {code: str(label) for code, label in SEVERITY.items()}
        self.values = {k: str(v) for k, v in (STATUS | VERDICT).items()}

    def group(self, code: str) -> str:
        """A reason code without its values."""
        if code.startswith("auth:"):
            return self.engine.get(code[5:], code[5:])
        return self.groups.get(code, code)

    def text(self, reason: Reason) -> str:
        """One order's reason, with its values."""
        values = reason.values
        if reason.code.startswith("auth:"):
            severity = values.get("severity", "")
            return f"{self.group(reason.code)} ({self.severity.get(severity, severity)})"
        values = {k: self.values.get(v, v) if k == "status" else v for k, v in values.items()}
        return self.templates[reason.code] % values
