"""A lab run's request from plain options (the command line's, the manager page's form),
checked field by field."""

from __future__ import annotations

from typing import Any

from simulation.lab import LabRequest
from simulation.policies import parse
from simulation.scenario import Model, _hhmm


class LabOptionsError(ValueError):
    """A bad option: `field` names it, the message says what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def lab_request(options: dict[str, Any]) -> LabRequest:
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
    model = model.with_knobs(
        technicians=options.get("technicians"), shift=shift, promise_hours=options.get("promise_hours"),
        orders_per_day=options.get("orders_per_day"),
    )  # fmt: skip
    first, count = int(options.get("seed") or 1), int(options.get("seeds") or 1)
    return LabRequest(
        days=int(options.get("days") or 7),
        seeds=list(range(first, first + count)),
        policies=policies,
        model=model,
        hindsight_s=float(options.get("hindsight_s") or 5.0),
    )
