"""The risk watch's rule: which figures of a team are below a limit or fell too far."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dispatch.kpis.settings import RISK_DEFAULTS, RISK_FIGURES


@dataclass(frozen=True)
class RiskSign:
    figure: str  # a KpiRow rate, e.g. "return_rate"
    kind: str  # below, above, fell, rose
    value: float  # the figure now, or the change in points (0.25 = 25 points)
    limit: float

    @property
    def text(self) -> str:
        """Plain English for logs and tests; the web layer words it in the user's language."""
        if self.kind in ("below", "above"):
            return f"{self.figure} {self.kind} {self.limit:.0%}"
        return f"{self.figure} {self.kind} {100 * self.value:.0f} points"


def risk_signs(
    figures: dict[str, Any], previous: dict[str, Any] | None = None, thresholds: dict[str, float] | None = None
) -> list[RiskSign]:
    """The early-warning signs of a technician or outlet this month: late completions, unhappy
    customers, procedure slips, doubtful proof, returns, repeat repairs — each beyond its threshold — and any
    of those that worsened by more than `change_points` since last month."""
    limits = RISK_DEFAULTS | (thresholds or {})
    # Too few decided orders to judge (an order still within its 24 hours is not decided yet).
    decided = figures.get("decided", figures.get("orders"))
    if (decided or 0) < limits["min_orders"]:
        return []
    signs = []
    for name, direction in RISK_FIGURES.items():
        value = figures.get(name)
        if value is None or name not in limits:
            continue
        if direction == "min" and value < limits[name]:
            signs.append(RiskSign(name, "below", value, limits[name]))
        elif direction == "max" and value > limits[name]:
            signs.append(RiskSign(name, "above", value, limits[name]))
    for name, direction in RISK_FIGURES.items():
        before, now = (previous or {}).get(name), figures.get(name)
        if before is None or now is None:
            continue
        worse = before - now if direction == "min" else now - before
        if worse > limits["change_points"] + 1e-9:
            signs.append(
                RiskSign(name, "fell" if direction == "min" else "rose", round(worse, 4), limits["change_points"])
            )
    return signs


def risk_flags(figures: dict[str, Any], previous: dict[str, Any] | None = None, thresholds=None) -> list[str]:
    """`risk_signs` as plain English lines."""
    return [sign.text for sign in risk_signs(figures, previous, thresholds)]
