"""The four monthly KPIs, defined once (docs/kpis.md has the definitions with examples).

Which orders count: created in the calendar month (service-area time), not cancelled by the
customer. Per order, SQL derives the facts (`facts`); the figures are SQL aggregates of them
(`figures`), and the drill-down lists the orders behind any figure with the reason each one
failed (`drilldown`). An admin sets the composite's weights and the risk watch's thresholds
(`settings`); the risk watch's rule is `risk`; closed months are frozen snapshots (`closing`).

- 24-hour completion: the completion that stood (the last `complete`, order now completed or
  closed) came within 24 h of intake, and its proof was accepted (authenticity not failed,
  unless a reviewer confirmed it, and not rejected by a reviewer).
- Satisfaction: the customer's score for the final visit, from the survey (flagged answers
  do not count) or else the callback; satisfied = 4 or 5; the mean is shown beside the share.
- Compliance (completed orders): customer contacted in time, checked in on site with a
  position, proof photo on the final visit, never returned as unqualified.
- Authenticity (completed orders): the verdict is verified, or a reviewer confirmed it.

Beside them, for the risk watch: returns (completed orders returned as unqualified) and repeat
repairs (completed repairs whose product came back for repair within 30 days).
"""

from dispatch.kpis.closing import NotFinal, close_month, month_state, snapshot
from dispatch.kpis.drilldown import (
    DRILLS,
    KPIS,
    OUTCOMES,
    PENDING_REASONS,
    REASON_TEXT,
    Reason,
    comeback_reasons,
    drill_down,
    drill_report,
    drill_scope,
    reason_groups,
)
from dispatch.kpis.facts import GROUPS, MONTH_MESSAGE, REPEAT_DAYS, month_bounds, order_facts, parse_month
from dispatch.kpis.figures import KpiRow, MonthFigures, composite, last_months, month_figures, monthly, overall_by_month
from dispatch.kpis.risk import RiskSign, risk_flags, risk_signs
from dispatch.kpis.settings import (
    DEFAULT_WEIGHTS,
    RISK_DEFAULTS,
    RISK_FIGURES,
    RISK_RANGES,
    current_risk_thresholds,
    current_weights,
    risk_threshold_errors,
    set_risk_thresholds,
    set_weights,
)
from dispatch.kpis.stored import refresh_all, refresh_facts, stored_facts

__all__ = [
    "DEFAULT_WEIGHTS", "DRILLS", "GROUPS", "KPIS", "REPEAT_DAYS", "RISK_DEFAULTS", "RISK_FIGURES", "RISK_RANGES",
    "MONTH_MESSAGE", "OUTCOMES", "MonthFigures", "month_figures", "PENDING_REASONS", "REASON_TEXT", "KpiRow", "NotFinal", "Reason", "drill_report", "drill_scope",
    "month_state",
    "reason_groups", "RiskSign", "close_month", "comeback_reasons", "composite", "current_risk_thresholds",
    "current_weights", "drill_down", "last_months", "month_bounds", "monthly", "order_facts", "overall_by_month", "parse_month",
    "refresh_all", "refresh_facts", "stored_facts", "risk_flags", "risk_signs", "risk_threshold_errors", "set_risk_thresholds", "set_weights", "snapshot",
]  # fmt: skip
