"""The KPI drill-down in the user's language, and as export rows (the page, the API and the
CSV/Excel exports all show the same `dispatch.kpis.drill_report`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from web.kpi_wording import ReasonWording
from web.labels import STATUS


def worded_drill(found: dict[str, Any]) -> dict[str, Any]:
    """`drill_report`'s answer with every reason worded: `reasons` (text), `reason_codes`,
    and the groups as {reason, text, orders}."""
    wording = ReasonWording()
    items = [
        row | {"reasons": [wording.text(w) for w in row["reasons"]], "reason_codes": [w.code for w in row["reasons"]]}
        for row in found["rows"]
    ]
    groups = [{"reason": code, "text": wording.group(code), "orders": n} for code, n in found["groups"]]
    return {"scope": found["scope"], "items": items, "groups": groups}


def drill_headers() -> list[str]:
    return [
        _("Number"), _("Technician"), _("Outlet"), _("Created"), _("Due"), _("Completed"), _("Hours late"),
        _("Status"), _("Score"), _("Counted"), _("Why not"),
    ]  # fmt: skip


def _when(value: Any) -> str:
    """A time in the service area's zone, as people read it (the page shows the same)."""
    return value.astimezone(current_app.config["TIMEZONE"]).strftime("%Y-%m-%d %H:%M") if value is not None else ""


def drill_cells(items: list[dict[str, Any]]) -> Iterator[list[Any]]:
    """One export row per drill-down order (the cells go through core.spreadsheet_cells)."""
    counted = {True: _("yes"), False: _("no"), None: _("pending")}
    for r in items:
        yield [
            r["number"], r["technician"] or "", r["outlet"] or "", _when(r["created_at"]), _when(r["due_at"]),
            _when(r["completed_at"]), r["late_hours"], str(STATUS.get(r["status"], r["status"])), r["score"],
            counted[r["passed"]], "; ".join(r["reasons"]),
        ]  # fmt: skip


def drill_file_name(args: dict[str, Any]) -> str:
    """kpi-orders-2026-11-completion_24h[-t7][-o2][-reason] (ASCII: ids and codes only)."""
    parts = ["kpi-orders", args["month"], args["kpi"]]
    if args.get("technician_id"):
        parts.append(f"t{args['technician_id']}")
    if args.get("outlet_id"):
        parts.append(f"o{args['outlet_id']}")
    if args.get("reason"):
        parts.append("".join(c for c in args["reason"] if c.isascii() and (c.isalnum() or c in "_:")).replace(":", "-"))
    return "-".join(parts)
