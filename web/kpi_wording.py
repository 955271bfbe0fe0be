"""The KPI report's words: figure names and risk signs in the user's language, each sign
linked to the drill-down with the orders behind it (the KPI page and the API both use them;
the signs themselves come from `dispatch.kpis.report`)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from dispatch.kpis import RiskSign
from dispatch.kpis.report import DRILL_OF

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
