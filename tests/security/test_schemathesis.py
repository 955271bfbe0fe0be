"""Schemathesis against /api/openapi.json, in-process (WSGI), on a seeded world.

Every documented operation gets a bounded number of generated requests, valid ones (positive
mode) and schema-breaking ones (negative mode), once as an admin with a bearer token and once
with no credentials, and every answer goes through all of schemathesis' checks (`--checks all`):
no server error, a status and content type the document lists, a body and headers that match
it, valid data accepted, invalid data refused, and the rest. All failures are collected and
shown together.

The figures (operations, requests, failures) are printed; run with `-s` to see them.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import RejectedPositiveData

from tests.conftest import Auth

# 5 examples an operation keep `make test` within its 15 minutes; SCHEMATHESIS_EXAMPLES=30 for a
# deeper run (0 failures at 30 on both databases, 2026-11-25).
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5"))
load_all_checks()
ALL_CHECKS = list(CHECKS.get_all())  # what `schemathesis run --checks all` runs

# Rules a JSON Schema cannot state: a value that must name an existing row (a skill code, an
# outlet), a rule across two fields, a password's mix of characters. The document states each
# in the field's description; a schema-valid request that breaks one gets a 400 naming that
# field. Only such a 400, naming only these fields, is let through the positive check.
DOMAIN_RULES = {
    "POST /api/orders": {"product_category", "required_skill"},
    "POST /api/technicians": {"outlet_id", "skills", "user_id", "break_start", "break_end", "break_minutes"},
    "PATCH /api/technicians/{tech_id}": {
        "outlet_id",
        "skills",
        "shift_end",
        "user_id",
        "break_start",
        "break_end",
        "break_minutes",
    },
    "POST /api/users": {"outlet_id", "password", "username"},
    "PATCH /api/users/{user_id}": {"outlet_id", "password"},
    "POST /api/plans": {"outlet_id"},
    "POST /api/outlets": {"opens_at", "closes_at", "break_start", "break_end", "break_minutes"},
    "POST /api/orders/{order_id}/callbacks": {"retry_at", "resolved"},
    "POST /api/kpi-weights": {"weights"},
    "POST /api/kpi-risk-thresholds": {"thresholds"},
    "POST /api/orders/{order_id}/complaint/transfers": {"to_user_id"},
    "POST /api/technicians/{tech_id}/leaves": {"end_date"},
    "GET /api/timeline": {"date"},  # years 2000-2099: format "date" has no minimum in OpenAPI 3.0
    # A correction needs the address or the position (lat and lon together): rules across fields.
    "PATCH /api/orders/{order_id}": {"address", "lat", "lon"},
    "GET /api/geocode": {"q"},  # blank after trimming
    # a shift that ends before it starts; a policy twice; a real period with no order in it
    "POST /api/lab/runs": {"shift", "policies", "from", "technicians", "orders_per_day"},
    # one move: order_id with technician_id, or extra_technician (a rule across fields)
    "POST /api/forecast/what-if": {"order_id", "technician_id", "extra_technician"},
    "POST /api/slots": {"skill"},  # a skill code the network knows
    # not in the past, within a year (dispatch.parts.check_part); the part's name not blank
    "POST /api/tech/orders/{order_id}/part-request": {"expected_on", "part"},
    "POST /api/technicians/{tech_id}/drop-out": {"reason"},  # sick, vehicle or other (the description says so)
    "PATCH /api/outlets/{outlet_id}": {"opens_at", "closes_at", "break_start", "break_end", "break_minutes"},
}


def breaks_a_domain_rule(operation: str, failure, response) -> bool:
    """A positive-mode 400 that names only fields whose rule the document states in prose."""
    if not isinstance(failure, RejectedPositiveData) or response.status_code != 400:
        return False
    detail = response.json().get("detail") or {}
    named = set(detail.get("json") or {}) | set(detail.get("query") or {})
    return bool(named) and named <= DOMAIN_RULES.get(operation, set())


def run_schema(app, headers: dict[str, str]) -> tuple[int, int, list[str]]:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations, calls, failures = 0, [0], []
    for result in schema.get_all_operations():
        operations += 1
        for mode in GenerationMode:
            try:
                checker(result.ok(), mode, headers, calls, failures)()
            except Unsatisfiable:  # negative mode, an operation with nothing to break (no input)
                assert mode is GenerationMode.NEGATIVE, f"{result.ok().path}: no valid request generated"
    return operations, calls[0], failures


def checker(operation, mode: GenerationMode, headers: dict[str, str], calls: list[int], failures: list[str]):
    """A Hypothesis test for one operation that records failures instead of stopping."""
    seen: set[str] = set()
    operation_name = f"{operation.method.upper()} {operation.path}"
    name = f"{operation_name} ({mode.value})"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case) -> None:
        calls[0] += 1
        try:
            # The WSGI client does not decompress: ask for the identity encoding (HTTP clients
            # that send Accept-Encoding get brotli/gzip JSON and decode it themselves).
            response = case.call(headers={**headers, "Accept-Encoding": "identity"})
        except Exception as exc:  # noqa: BLE001 - TESTING propagates what would be a 500
            failures.append(f"{name}: raised {exc!r}\n    {case.as_curl_command()}")
            return
        try:
            case.validate_response(response, checks=ALL_CHECKS, headers=headers)
        except (AssertionError, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup
            found = getattr(exc, "exceptions", None) or [exc]
            found = [f for f in found if not breaks_a_domain_rule(operation_name, f, response)]
            if not found:
                return
            titles = sorted({getattr(f, "title", None) or str(f).strip().split("\n")[0] for f in found})
            key = f"{name}: {'; '.join(titles)}"
            if key not in seen:
                seen.add(key)
                failures.append(
                    f"{key}\n    {response.status_code} {response.text[:300]}\n    {case.as_curl_command()}"
                )

    return check


@pytest.fixture
def seeded(world):
    return world


def test_the_api_keeps_its_documented_contract_for_an_admin(app, seeded):
    headers = Auth(app.test_client()).token("admin")
    operations, calls, failures = run_schema(app, headers)
    print(f"\nschemathesis (admin): {operations} operations, {calls} requests, {len(failures)} failures")
    assert operations > 50
    assert not failures, "\n".join(failures)


def test_the_api_keeps_its_documented_contract_for_strangers(app, seeded):
    operations, calls, failures = run_schema(app, {})
    print(f"\nschemathesis (no credentials): {operations} operations, {calls} requests, {len(failures)} failures")
    assert not failures, "\n".join(failures)
