"""The monthly report a manager hands in, as an Excel workbook and as a printable PDF, in the
user's language. Both lay out `dispatch.kpis.handin.monthly_report` (the KPI page's read model
and the orders behind each failure); the words come from `web/kpi_wording.py`.

The workbook keeps rates as numbers formatted as percentages (0.834 shows as 83.4 %, and a
formula can still add them up), times as local date-times, every text cell through
`core/spreadsheet_cells.py`. The PDF is HTML laid out by WeasyPrint: A4, the scope, month and
time of generation in each page's header, page numbers, charts as SVG drawn by the template.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import xlsxwriter
from flask import Response, current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.spreadsheet_cells import safe_cell
from dispatch.kpis.handin import HANDED_IN_PER_OUTLET, best_and_worst
from web.exports import XLSX_TYPE
from web.kpi_wording import FIGURE_LABELS, ReasonWording, RiskWording
from web.labels import STATUS

PERCENT = "0.0%"
POINTS = "+0.0%;-0.0%;0.0%"  # a change in rate: 0.05 reads "+5.0%"
MEAN = "0.00"
WHEN = "yyyy-mm-dd hh:mm"
WATCHED_IN_PDF = 40  # technicians of the risk watch the PDF names (most signs first); the rest: the workbook

# The drill-down figures as the report names them.
DRILL_LABELS = {
    "completion_24h": FIGURE_LABELS["completion_24h_rate"], "satisfaction": FIGURE_LABELS["satisfaction_rate"],
    "compliance": FIGURE_LABELS["compliance_rate"], "authenticity": FIGURE_LABELS["authenticity_rate"],
    "repeat_repairs": _l("Repeat repairs"),
}  # fmt: skip


def _width(value: Any) -> int:
    """How many columns a value takes in a spreadsheet: a Chinese character counts two."""
    text = value if isinstance(value, str) else f"{value}" if value is not None else ""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


class Book:
    """An XlsxWriter workbook written row by row (constant memory): a month's failed orders are
    tens of thousands of rows, which openpyxl took about a minute to write. Strings are never
    read as formulas, URLs or numbers; every text cell also goes through `safe_cell`."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.book = xlsxwriter.Workbook(
            self.out,
            {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
             "strings_to_numbers": False},
        )  # fmt: skip
        self.header = self.book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#EEF1F4"})
        self.formats: dict[str, Any] = {}

    def format(self, number_format: str | None) -> Any:
        if number_format is None:
            return None
        if number_format not in self.formats:
            self.formats[number_format] = self.book.add_format({"num_format": number_format})
        return self.formats[number_format]

    def close(self) -> bytes:
        self.book.close()
        return self.out.getvalue()


class Sheet:
    """One worksheet: a bold, frozen header row, columns as wide as their header and first
    rows, per-column number formats (or per cell: `add(values, formats)`)."""

    def __init__(self, book: Book, title: str, columns: Sequence[tuple[str, str | None]]) -> None:
        self.book = book
        self.title = title[:31]
        self.columns = columns
        self.rows: list[tuple[list[Any], list[str | None] | None]] = []

    def add(self, values: Iterable[Any], formats: list[str | None] | None = None) -> None:
        self.rows.append((list(values), formats))

    def write(self) -> None:
        sheet = self.book.book.add_worksheet(self.title)
        widths = [_width(str(header)) for header, _fmt in self.columns]
        for row, _formats in self.rows[:500]:  # a sample is enough to size a column
            for i, value in enumerate(row):
                shown = 10 if isinstance(value, float) else 16 if isinstance(value, datetime) else _width(value)
                widths[i] = max(widths[i], shown)
        for i, width in enumerate(widths):
            sheet.set_column(i, i, min(max(width + 2, 8), 60))
        sheet.freeze_panes(1, 0)
        for col, (title, _fmt) in enumerate(self.columns):
            sheet.write_string(0, col, safe_cell(str(title)), self.book.header)
        column_formats = [self.book.format(fmt) for _title, fmt in self.columns]
        write, write_string = sheet.write, sheet.write_string
        for r, (row, formats) in enumerate(self.rows, start=1):
            cell_formats = column_formats if formats is None else [self.book.format(f) for f in formats]
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, str):
                    write_string(r, c, safe_cell(value))
                else:
                    write(r, c, value, cell_formats[c])


def _local(value: datetime | None) -> datetime | None:
    """A time as the service area reads it (Excel has no time zones)."""
    if value is None:
        return None
    return value.astimezone(current_app.config["TIMEZONE"]).replace(tzinfo=None)


def local_text(value: datetime) -> str:
    return value.astimezone(current_app.config["TIMEZONE"]).strftime("%Y-%m-%d %H:%M")


def scope_name(report: dict[str, Any]) -> str:
    return report["scope"]["outlet"] or _("All outlets")


def state_text(report: dict[str, Any]) -> str:
    state = report["state"]
    if state.get("closed"):
        return _("closed")
    return _("final") if state.get("final") else _("not final yet")


def _signs(wording: RiskWording, row: dict[str, Any], by: str) -> str:
    return "; ".join(item["text"] for item in wording.reasons(row["key"], row["signs"], by))


def report_xlsx(report: dict[str, Any]) -> bytes:
    """The month as an Excel workbook: summary, outlets, technicians, failures by reason and
    the orders behind each failure."""
    book = Book()
    risk = RiskWording(report["month"])
    reasons = ReasonWording()
    outlets = report["outlet_names"]

    summary: list[tuple[Any, Any, Any, bool]] = [  # label, value, note, whether the value is a rate
        (_("Monthly KPI report"), report["month"], None, False), (_("Outlet"), scope_name(report), None, False),
        (_("Generated at"), local_text(report["generated_at"]), None, False),
        (_("State"), state_text(report), None, False),
    ]  # fmt: skip
    for row in report["overall"][:1]:
        mean = row["satisfaction_mean"] if row["satisfaction_mean"] is not None else "—"
        summary += [
            (_("Orders"), row["orders"], _("%(n)s completed", n=row["completed"]), False),
            (FIGURE_LABELS["completion_24h_rate"], row["completion_24h_rate"],
             _("%(n)s decided, %(p)s still within their 24 h", n=row["decided"], p=row["pending_24h"]), True),
            (FIGURE_LABELS["satisfaction_rate"], row["satisfaction_rate"],
             _("%(n)s scored, mean %(m)s", n=row["rated"], m=mean), True),
            (FIGURE_LABELS["compliance_rate"], row["compliance_rate"], None, True),
            (FIGURE_LABELS["authenticity_rate"], row["authenticity_rate"], None, True),
            (FIGURE_LABELS["return_rate"], row["return_rate"], None, True),
            (FIGURE_LABELS["repeat_rate"], row["repeat_rate"],
             _("of %(n)s completed repairs", n=row["repairs"] or 0), True),
            (_("Composite"), row["composite"], None, True),
        ]  # fmt: skip
    sheet = Sheet(book, _("Summary"), [(_("Item"), None), (_("Value"), None), (_("Note"), None)])
    for label, value, note, rate in summary:  # the value column mixes text, counts and rates
        sheet.add([str(label), value, note], [None, PERCENT if rate else None, None])
    sheet.write()

    figures = [
        (_("Orders"), None), (_("Decided"), None), (_("Still within their 24 h"), None), (_("Completed"), None),
        (FIGURE_LABELS["completion_24h_rate"], PERCENT), (FIGURE_LABELS["satisfaction_rate"], PERCENT),
        (_("Mean score"), MEAN), (FIGURE_LABELS["compliance_rate"], PERCENT),
        (FIGURE_LABELS["authenticity_rate"], PERCENT), (FIGURE_LABELS["return_rate"], PERCENT),
        (_("Completed repairs"), None), (FIGURE_LABELS["repeat_rate"], PERCENT), (_("Composite"), PERCENT),
    ]  # fmt: skip

    def numbers(row: dict[str, Any]) -> list[Any]:
        return [
            row["orders"], row["decided"], row["pending_24h"], row["completed"], row["completion_24h_rate"],
            row["satisfaction_rate"], row["satisfaction_mean"], row["compliance_rate"], row["authenticity_rate"],
            row["return_rate"], row["repairs"], row["repeat_rate"], row["composite"],
        ]  # fmt: skip

    sheet = Sheet(book, _("Outlets"), [(_("Outlet"), None), *figures, (_("Risk watch"), None)])
    for row in report["outlets"]:
        sheet.add([row["name"], *numbers(row), _signs(risk, row, "outlet")])
    sheet.write()

    sheet = Sheet(
        book, _("Technicians"),
        [(_("Rank"), None), (_("Technician"), None), (_("Outlet"), None), *figures[:5],
         (_("vs %(m)s", m=report["previous"]), POINTS), *figures[5:], (_("Risk watch"), None)],
    )  # fmt: skip
    for rank, row in enumerate(report["technicians"], start=1):
        values = numbers(row)
        sheet.add([
            rank, row["name"], outlets.get(row.get("outlet_id"), ""), *values[:5], row["change"], *values[5:],
            _signs(risk, row, "technician"),
        ])  # fmt: skip
    sheet.write()

    sheet = Sheet(book, _("Failures by reason"), [(_("Figure"), None), (_("Reason"), None), (_("Orders"), None)])
    for kpi, failed in report["failures"].items():
        for code, count in failed["groups"]:
            sheet.add([str(DRILL_LABELS[kpi]), reasons.group(code), count])
    sheet.write()

    statuses = {code: str(label) for code, label in STATUS.items()}
    sheet = Sheet(
        book, _("Failed orders"),
        [(_("Figure"), None), (_("Number"), None), (_("Technician"), None), (_("Outlet"), None),
         (_("Created"), WHEN), (_("Due"), WHEN), (_("Completed"), WHEN), (_("Hours late"), "0.0"),
         (_("Status"), None), (_("Score"), None), (_("Why not"), None)],
    )  # fmt: skip
    for kpi, failed in report["failures"].items():
        label = str(DRILL_LABELS[kpi])
        for r in failed["rows"]:
            sheet.add([
                label, r["number"], r["technician"] or "", r["outlet"] or "", _local(r["created_at"]),
                _local(r["due_at"]), _local(r["completed_at"]), r["late_hours"],
                statuses.get(r["status"], r["status"]), r["score"], "; ".join(reasons.text(w) for w in r["reasons"]),
            ])  # fmt: skip
    sheet.write()
    return book.close()


def report_file_name(report: dict[str, Any], extension: str) -> str:
    """kpi-report-2026-11[-o3].xlsx (ASCII: the month and the outlet's id)."""
    outlet = report["scope"]["outlet_id"]
    return f"kpi-report-{report['month']}{f'-o{outlet}' if outlet else ''}.{extension}"


# --- PDF ------------------------------------------------------------------------------------


def report_html(report: dict[str, Any]) -> str:
    """The month as a printable HTML page (the PDF's source; no script, no external file)."""
    risk = RiskWording(report["month"])
    reasons = ReasonWording()
    for by in ("technician", "outlet"):
        for row in report[by + "s"]:
            row["risk_text"] = _signs(risk, row, by)
    groups = [
        {"figure": str(DRILL_LABELS[kpi]), "reason": reasons.group(code), "orders": count}
        for kpi, failed in report["failures"].items()
        for code, count in failed["groups"]
    ]
    before = report["trend"][-2] if len(report["trend"]) > 1 else {}
    # The handed-in PDF names a few technicians (each outlet's best and worst, the most worrying
    # of the risk watch); every technician is in the workbook.
    extremes = best_and_worst(report["technicians"])
    names = {o["key"]: o["name"] for o in report["outlets"]}
    outlets = [*names, *sorted((k for k in extremes if k not in names), key=lambda k: (k is None, k or 0))]
    watched = sorted(
        (r for r in report["technicians"] if r["signs"]),
        key=lambda r: (-len(r["signs"]), r["completion_24h_rate"] or 0, r["name"]),
    )
    return render_template(
        "kpi_report_pdf.html", **report, scope_name=scope_name(report), state_text=state_text(report),
        generated=local_text(report["generated_at"]), figure_labels=FIGURE_LABELS, groups=groups,
        before=before, trend_shown=[m for m in report["trend"] if m.get("orders")],
        extremes=[{"name": names.get(k) or report["outlet_names"].get(k) or _("No outlet"), **extremes[k]}
                  for k in outlets if k in extremes],
        per_outlet=HANDED_IN_PER_OUTLET, watched=watched[:WATCHED_IN_PDF],
        watched_more=max(len(watched) - WATCHED_IN_PDF, 0),
    )  # fmt: skip


def weasyprint() -> tuple[Any, Any]:
    """WeasyPrint's HTML and URLFetcher, imported on first use (it loads Pango). Its import
    turns on Pillow's `LOAD_TRUNCATED_IMAGES` for the whole process; the photo proof's check
    refuses truncated photos (dispatch/photos), so the flag is put back: the report draws no
    raster image that would need it."""
    from PIL import ImageFile

    before = ImageFile.LOAD_TRUNCATED_IMAGES
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    ImageFile.LOAD_TRUNCATED_IMAGES = before
    return HTML, URLFetcher


def report_pdf(report: dict[str, Any]) -> bytes:
    """The month as a PDF. WeasyPrint reads nothing but the HTML given: every URL is refused,
    so a name in the report can never make the server fetch a file or a web page."""
    HTML, URLFetcher = weasyprint()  # noqa: N806 - the library's class names
    return HTML(string=report_html(report), url_fetcher=URLFetcher(allowed_protocols=frozenset())).write_pdf()


def report_response(found: dict[str, Any], extension: str) -> Response:
    """The report as a download: `xlsx` or `pdf`."""
    body, mimetype = (report_xlsx(found), XLSX_TYPE) if extension == "xlsx" else (report_pdf(found), "application/pdf")
    return Response(
        body, mimetype=mimetype,
        headers={"Content-Disposition": f"attachment; filename={report_file_name(found, extension)}"},
    )  # fmt: skip
