"""What an admin sets for the KPIs: the composite's weights and the risk watch's thresholds,
both versioned."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.db import transactional
from core.errors import ValidationFailed
from dispatch.kpis.drilldown import KPIS
from dispatch.models import (
    KpiRiskThresholds,
    KpiWeights,
)

DEFAULT_WEIGHTS = {"completion_24h": 0.4, "satisfaction": 0.3, "compliance": 0.15, "authenticity": 0.15}
RATE_OF = {
    "completion_24h": "completion_24h_rate", "satisfaction": "satisfaction_rate",
    "compliance": "compliance_rate", "authenticity": "authenticity_rate",
}  # fmt: skip


def current_weights(session: Session) -> tuple[int | None, dict[str, float]]:
    row = session.scalar(select(KpiWeights).order_by(KpiWeights.version.desc()).limit(1))
    return (row.version, dict(row.weights)) if row else (None, dict(DEFAULT_WEIGHTS))


@transactional
def set_weights(session: Session, weights: dict[str, float], *, actor_id: int | None) -> KpiWeights:
    """A new version of the composite's weights (past closed months keep theirs)."""
    errors = {}
    unknown = set(weights) - set(KPIS)
    if unknown:
        errors["weights"] = f"unknown KPI(s): {', '.join(sorted(unknown))}; use {', '.join(KPIS)}"
    elif any(not isinstance(w, (int, float)) or w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        errors["weights"] = "weights must be zero or more, and not all zero"
    if errors:
        raise ValidationFailed(errors)
    version = (session.scalar(select(func.max(KpiWeights.version))) or 0) + 1
    row = KpiWeights(version=version, weights={k: float(weights.get(k, 0)) for k in KPIS}, created_by_id=actor_id)
    session.add(row)
    return row


# The practice's early-warning signs, each a figure against a threshold an admin can change
# (versioned like the weights). "min": flagged below the limit; "max": flagged above it.
RISK_FIGURES = {
    "completion_24h_rate": "min",  # late completions
    "satisfaction_rate": "min",  # unhappy customers
    "compliance_rate": "min",  # procedure slips
    "authenticity_rate": "min",  # doubtful proof
    "return_rate": "max",  # returns as unqualified
    "repeat_rate": "max",  # repeat repairs within REPEAT_DAYS
}
RISK_DEFAULTS: dict[str, float] = {
    "completion_24h_rate": 0.85,
    "satisfaction_rate": 0.8,
    "compliance_rate": 0.8,
    "authenticity_rate": 0.9,
    "return_rate": 0.1,
    "repeat_rate": 0.1,
    "change_points": 0.1,  # a figure that worsened by more than this since last month
    "min_orders": 5,  # teams with fewer decided orders are not flagged (too few to judge)
}
RISK_RANGES = {name: (0.0, 1.0) for name in RISK_FIGURES} | {"change_points": (0.01, 1.0), "min_orders": (0, 10_000)}


def current_risk_thresholds(session: Session) -> tuple[int | None, dict[str, float]]:
    """The newest version of the thresholds, or the defaults (version None) if none was set."""
    row = session.scalar(select(KpiRiskThresholds).order_by(KpiRiskThresholds.version.desc()).limit(1))
    return (row.version, RISK_DEFAULTS | dict(row.thresholds)) if row else (None, dict(RISK_DEFAULTS))


def risk_threshold_errors(values: dict[str, Any]) -> dict[str, str]:
    """Each bad threshold named with what is wrong (unknown name, not a number, out of range)."""
    errors = {}
    for name, value in values.items():
        if name not in RISK_DEFAULTS:
            errors[name] = f"unknown threshold; use {', '.join(RISK_DEFAULTS)}"
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            errors[name] = "must be a number"
        elif name == "min_orders" and value != int(value):
            errors[name] = "must be a whole number"
        elif not RISK_RANGES[name][0] <= value <= RISK_RANGES[name][1]:
            low, high = RISK_RANGES[name]
            errors[name] = f"must be between {low:g} and {high:g}"
    return errors


@transactional
def set_risk_thresholds(session: Session, values: dict[str, Any], *, actor_id: int | None) -> KpiRiskThresholds:
    """A new version of the thresholds: the values given, the current ones for the rest.
    Every version is kept with who set it and when (the audit trail of the setting)."""
    errors = risk_threshold_errors(values)
    if not values:
        errors["thresholds"] = "give at least one threshold"
    if errors:
        raise ValidationFailed(errors)
    _, current = current_risk_thresholds(session)
    version = (session.scalar(select(func.max(KpiRiskThresholds.version))) or 0) + 1
    merged = current | {k: (int(v) if k == "min_orders" else float(v)) for k, v in values.items()}
    row = KpiRiskThresholds(version=version, thresholds=merged, created_by_id=actor_id)
    session.add(row)
    return row
