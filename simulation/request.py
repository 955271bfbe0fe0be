"""A lab run's request from plain options (the command line's, the manager page's form),
checked field by field."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from simulation.history import PeriodError, period_scenario
from simulation.lab import LabRequest
from simulation.policies import parse
from simulation.scenario import Model, _hhmm


class LabOptionsError(ValueError):
    """A bad option: `field` names it, the message says what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def lab_request(options: dict[str, Any], session: Session | None = None, outlet_id: int | None = None) -> LabRequest:
    """The request the options describe. With `from` (a local date), the orders of that real
    period are read through `session` (only `outlet_id`'s when given) instead of generated."""
    try:
        policies = parse(options.get("policies") or "baseline,instant,reoptimise", options.get("time_limit") or 0.3)
    except ValueError as exc:
        raise LabOptionsError("policies", str(exc)) from None
    shift = None
    if options.get("shift"):
        try:
            a, b = (_hhmm(x.strip()) for x in options["shift"].split("-"))
        except ValueError:
            raise LabOptionsError("shift", "write it as HH:MM-HH:MM, e.g. 08:00-18:00") from None
        if a >= b:
            raise LabOptionsError("shift", "must end after it starts")
        shift = (a, b)
    try:
        model = Model.load(options.get("model_path"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LabOptionsError("model", f"cannot read the generator's parameters: {exc}") from None
    days = int(options.get("days") or 7)
    period = None
    first_day = options.get("from")
    if first_day:
        for knob in ("technicians", "orders_per_day"):
            if options.get(knob) is not None:
                raise LabOptionsError(knob, "applies to generated orders only: a real period has its own")
        if isinstance(first_day, str):
            try:
                first_day = date.fromisoformat(first_day)
            except ValueError:
                raise LabOptionsError("from", "a date, YYYY-MM-DD") from None
        if session is None:
            raise LabOptionsError("from", "a real period needs the database")
        model = model.with_knobs(promise_hours=options.get("promise_hours"), horizon_days=options.get("horizon_days"))
        try:
            period = period_scenario(session, first_day, days, model, outlet_id=outlet_id)
        except PeriodError as exc:
            field, _, message = str(exc).partition(": ")
            raise LabOptionsError(field, message) from None
        if shift is not None:  # what if the same people worked other hours
            period = replace(period, technicians=tuple(replace(t, shift=shift) for t in period.technicians))
        model = period.model
    else:
        model = model.with_knobs(
            technicians=options.get("technicians"), shift=shift, promise_hours=options.get("promise_hours"),
            orders_per_day=options.get("orders_per_day"), horizon_days=options.get("horizon_days"),
        )  # fmt: skip
    first, count = int(options.get("seed") or 1), int(options.get("seeds") or 1)
    return LabRequest(
        days=days,
        seeds=list(range(first, first + count)),
        policies=policies,
        model=model,
        hindsight_s=float(options.get("hindsight_s") or 5.0),
        period=period,
    )
