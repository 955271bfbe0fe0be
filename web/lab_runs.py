"""The policy lab's runs of this process (simulation.runs), shared by its page and its API."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from core.errors import ValidationFailed
from simulation.lab import LabRequest
from simulation.policies import KINDS
from simulation.request import LabOptionsError, lab_request
from simulation.runs import LabRuns

# What a run started from the web may ask for: minutes of CPU in the web process, not hours.
MAX_DAYS, MAX_SEEDS, MAX_TECHNICIANS, MAX_ORDERS_PER_DAY = 31, 5, 50, 500
POLICY_CHOICES = KINDS


def lab_runs() -> LabRuns:
    return current_app.extensions.setdefault("lab_runs", LabRuns())


def request_from(values: dict[str, Any], session: Session | None = None, outlet_id: int | None = None) -> LabRequest:
    """A lab request from checked form or JSON values; a bad combination is a 400 naming its field.
    A real period (`from`) is read through `session`, only `outlet_id`'s orders when given."""
    options = dict(values)
    policies = options.pop("policies", None) or []
    if not policies:
        raise ValidationFailed({"policies": "choose at least one policy"})
    if len(set(policies)) != len(policies):
        raise ValidationFailed({"policies": "name each policy once"})
    options["policies"] = ",".join(policies)
    options.setdefault("hindsight_s", 2.0)
    options.setdefault("time_limit", 0.3)
    try:
        return lab_request(options, session, outlet_id)
    except LabOptionsError as exc:
        raise ValidationFailed({exc.field: exc.message}) from None
