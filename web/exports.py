"""Spreadsheet downloads: CSV and Excel responses built the same way for every export, every
cell through the one escaping rule (core/spreadsheet_cells.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from flask import Response
from openpyxl import Workbook

from core.spreadsheet_cells import append_xlsx_row, safe_row

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_response(header: Sequence[Any], rows: Iterable[Iterable[Any]], filename: str) -> Response:
    """A CSV download; a byte-order mark first so that Excel opens UTF-8 Chinese names correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(safe_row(header))
    writer.writerows(safe_row(row) for row in rows)
    return Response(
        "\ufeff" + out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


def xlsx_response(
    title: str, header: Sequence[Any], rows: Iterable[Iterable[Any]], filename: str, *, freeze_header: bool = False
) -> Response:
    """An Excel download with one sheet (`title`, cut to Excel's 31 characters)."""
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    append_xlsx_row(sheet, header)
    for row in rows:
        append_xlsx_row(sheet, row)
    if freeze_header:
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(), mimetype=XLSX_TYPE, headers={"Content-Disposition": f"attachment; filename={filename}"}
    )
