"""Service-level clocks. The practice's time limits are policies, so they are data.

Four clocks per order (DOMAIN.md): contact the customer, arrive on site, complete, and call
the customer back after completion. Which limits apply comes from the most specific active
`SlaRule` (admin-edited); `SlaPolicy` holds the configured defaults used where no rule sets a
clock. Everything here is plain Python over rule-like objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

# The configured defaults where no rule sets a clock, written here once (web/config.py reads
# them as the environment's defaults). The callback: the practice calls back 3 to 7 days
# after the fix (DOMAIN.md).
COMPLETION_HOURS = 24.0
CONTACT_MINUTES = 30
CALLBACK_DAYS = 7.0
WARN_RATIO = 0.8

# The lifecycle move that stops each clock (any later move stops the earlier clocks too).
STOPPED_BY = {
    "contact": {"contact", "depart", "arrive", "complete"},
    "arrival": {"arrive", "complete"},
    "completion": {"complete"},
    "callback": {"close"},
}


class RuleLike(Protocol):
    priority: str | None
    issue_category: str | None
    channel: str | None
    contact_minutes: int | None
    arrival_minutes: int | None
    completion_minutes: int | None
    callback_minutes: int | None
    warn_ratio: float
    pause_overnight: bool


@dataclass(frozen=True)
class SlaPolicy:
    """Configured defaults: hours to completion (default, per priority, per issue category —
    the most specific wins), minutes to first contact, days to callback, warning ratio."""

    default_hours: float = COMPLETION_HOURS
    priority_hours: Mapping[str, float] = field(default_factory=dict)
    category_hours: Mapping[str, float] = field(default_factory=dict)
    contact_minutes: int | None = CONTACT_MINUTES
    callback_days: float | None = CALLBACK_DAYS
    warn_ratio: float = WARN_RATIO
    # Whether waiting for a part (dispatch.parts) pauses the completion clock: by default it
    # does not (the head office's 24 hours count the wait; the KPI drill-down names it).
    parts_pause_clock: bool = False

    def completion_hours(self, priority: str, issue_category: str) -> float:
        if issue_category in self.category_hours:
            return self.category_hours[issue_category]
        return self.priority_hours.get(priority, self.default_hours)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SlaPolicy:
        return cls(
            default_hours=float(config.get("SLA_COMPLETION_HOURS", COMPLETION_HOURS)),
            priority_hours=dict(config.get("SLA_PRIORITY_HOURS", {})),
            category_hours=dict(config.get("SLA_CATEGORY_HOURS", {})),
            contact_minutes=config.get("SLA_CONTACT_MINUTES", CONTACT_MINUTES),
            callback_days=config.get("SLA_CALLBACK_DAYS", CALLBACK_DAYS),
            warn_ratio=float(config.get("SLA_WARN_RATIO", WARN_RATIO)),
            parts_pause_clock=bool(config.get("SLA_PARTS_PAUSE_CLOCK", False)),
        )


def choose_rule(rules: Iterable[RuleLike], priority: str, issue_category: str, channel: str) -> RuleLike | None:
    """The most specific rule whose set fields all match (ties: the first given)."""
    best, best_score = None, -1
    for rule in rules:
        wanted = {"priority": priority, "issue_category": issue_category, "channel": channel}
        fields = {k: getattr(rule, k) for k in wanted}
        if any(v is not None and v != wanted[k] for k, v in fields.items()):
            continue
        score = sum(v is not None for v in fields.values())
        if score > best_score:
            best, best_score = rule, score
    return best


@dataclass(frozen=True)
class Deadline:
    clock: str
    warn_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class BusinessHours:
    """An outlet's opening hours, every day, in its time zone: a paused clock runs only then."""

    opens: time
    closes: time
    tz: ZoneInfo

    def add(self, start: datetime, minutes: float) -> datetime:
        """`start` plus `minutes` of open time (time outside the hours does not count)."""
        local = start.astimezone(self.tz)
        left = timedelta(minutes=minutes)
        while True:
            day_open = datetime.combine(local.date(), self.opens, tzinfo=self.tz)
            day_close = datetime.combine(local.date(), self.closes, tzinfo=self.tz)
            if local < day_open:
                local = day_open
            if local >= day_close:
                local = datetime.combine(local.date() + timedelta(days=1), self.opens, tzinfo=self.tz)
                continue
            if local + left <= day_close:
                return (local + left).astimezone(start.tzinfo)
            left -= day_close - local
            local = datetime.combine(local.date() + timedelta(days=1), self.opens, tzinfo=self.tz)


def deadline(
    clock: str, started: datetime, minutes: float, warn_ratio: float, hours: BusinessHours | None = None
) -> Deadline:
    if hours is not None:
        return Deadline(clock, hours.add(started, minutes * warn_ratio), hours.add(started, minutes))
    limit = timedelta(minutes=minutes)
    return Deadline(clock, started + limit * warn_ratio, started + limit)


def intake_deadlines(
    policy: SlaPolicy,
    rule: RuleLike | None,
    created: datetime,
    priority: str,
    issue_category: str,
    hours: BusinessHours | None = None,
) -> list[Deadline]:
    """The clocks that start at intake: contact, arrival (if set) and completion. With
    `hours` (a rule that pauses overnight, at an outlet with opening hours) only open time
    counts."""
    ratio = rule.warn_ratio if rule is not None else policy.warn_ratio
    limits = {
        "contact": _pick(rule, "contact_minutes", policy.contact_minutes),
        "arrival": _pick(rule, "arrival_minutes", None),
        "completion": _pick(rule, "completion_minutes", policy.completion_hours(priority, issue_category) * 60),
    }
    return [deadline(c, created, m, ratio, hours) for c, m in limits.items() if m]


def callback_deadline(policy: SlaPolicy, rule: RuleLike | None, completed: datetime) -> Deadline | None:
    """The callback clock, started when a visit is completed: the rule's limit, or the
    configured days; none when neither sets one."""
    default = policy.callback_days * 24 * 60 if policy.callback_days else None
    minutes = _pick(rule, "callback_minutes", default)
    ratio = rule.warn_ratio if rule is not None else policy.warn_ratio
    return deadline("callback", completed, minutes, ratio) if minutes else None


def _pick(rule: RuleLike | None, attr: str, default: float | None) -> float | None:
    value = getattr(rule, attr) if rule is not None else None
    return value if value is not None else default
