"""Completion deadlines. The practice's time limits are policies, so they are data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class SlaPolicy:
    """Hours to completion: the default, overridden per priority, then per issue category.

    The most specific rule wins: `category_hours` before `priority_hours` before the
    default. Each order's deadline is computed once, at intake, and stored on the order.
    """

    default_hours: float = 24.0
    priority_hours: Mapping[str, float] = field(default_factory=dict)
    category_hours: Mapping[str, float] = field(default_factory=dict)

    def completion_hours(self, priority: str, issue_category: str) -> float:
        if issue_category in self.category_hours:
            return self.category_hours[issue_category]
        return self.priority_hours.get(priority, self.default_hours)

    def due_at(self, created_at: datetime, priority: str, issue_category: str) -> datetime:
        return created_at + timedelta(hours=self.completion_hours(priority, issue_category))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SlaPolicy:
        return cls(
            default_hours=float(config.get("SLA_COMPLETION_HOURS", 24)),
            priority_hours=dict(config.get("SLA_PRIORITY_HOURS", {})),
            category_hours=dict(config.get("SLA_CATEGORY_HOURS", {})),
        )
