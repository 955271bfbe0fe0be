"""The monthly report a manager hands in (XLSX and PDF) on the hand-built month of
test_kpis.py: every figure in the workbook and in the PDF's text is the API's."""

from __future__ import annotations

import io
from collections import Counter

import pytest
from openpyxl import load_workbook

from tests.integration.test_kpis import month  # noqa: F401  (the hand-built month, a fixture)

pypdf = pytest.importorskip("pypdf")

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def api(client, headers, path: str) -> dict:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def workbook(client, headers, path: str = "/api/kpis/report.xlsx?month=2026-11"):
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "kpi-report-2026-11" in response.headers["Content-Disposition"]
    return load_workbook(io.BytesIO(response.data))


def records(sheet) -> list[dict]:
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_the_workbook_sheets_agree_with_the_api(client, auth, month):  # noqa: F811
    manager = auth.token("manager")
    book = workbook(client, manager)
    assert book.sheetnames == ["Summary", "Outlets", "Technicians", "Failures by reason", "Failed orders"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.column_dimensions["A"].width >= 8, sheet.title

    (overall,) = api(client, manager, "/api/kpis?month=2026-11&by=all")["items"]
    summary = {r["Item"]: r for r in records(book["Summary"])}
    assert summary["Monthly KPI report"]["Value"] == "2026-11"
    assert summary["Outlet"]["Value"] == "All outlets"
    assert summary["Orders"]["Value"] == overall["orders"] == 5
    for label, field in (
        ("24-hour completion", "completion_24h_rate"), ("Satisfaction", "satisfaction_rate"),
        ("Compliance", "compliance_rate"), ("Authenticity", "authenticity_rate"),
    ):  # fmt: skip
        assert summary[label]["Value"] == overall[field], label
    assert (summary["24-hour completion"]["Value"], summary["Compliance"]["Value"]) == (0.4, 0.75)
    # A real number shown as a percentage, not a fraction read as 0.4.
    values = {row[0].value: row[1] for row in book["Summary"].iter_rows(min_row=2)}
    assert values["24-hour completion"].number_format == "0.0%"

    (tech,) = api(client, manager, "/api/kpis?month=2026-11&by=technician")["items"]
    (row,) = records(book["Technicians"])
    assert (row["Technician"], row["Outlet"], row["Orders"]) == (tech["name"], "South", tech["orders"])
    assert row["24-hour completion"] == tech["completion_24h_rate"]
    assert row["Satisfaction"] == tech["satisfaction_rate"] and row["Mean score"] == tech["satisfaction_mean"]
    assert row["Compliance"] == tech["compliance_rate"] and row["Authenticity"] == tech["authenticity_rate"]
    cells = next(book["Technicians"].iter_rows(min_row=2))
    header = [c.value for c in next(book["Technicians"].iter_rows(max_row=1))]
    assert cells[header.index("Compliance")].number_format == "0.0%"
    outlets = {r["Outlet"]: r for r in records(book["Outlets"])}
    for item in api(client, manager, "/api/kpis?month=2026-11&by=outlet")["items"]:
        assert outlets[item["name"]]["24-hour completion"] == item["completion_24h_rate"]
        assert outlets[item["name"]]["Orders"] == item["orders"]

    failed = [(r["Figure"], r["Number"], r["Why not"]) for r in records(book["Failed orders"])]
    groups = Counter()
    expected = []
    for kpi, label in (
        ("completion_24h", "24-hour completion"), ("satisfaction", "Satisfaction"), ("compliance", "Compliance"),
        ("authenticity", "Authenticity"), ("repeat_repairs", "Repeat repairs"),
    ):  # fmt: skip
        drill = api(client, manager, f"/api/kpis/orders?month=2026-11&kpi={kpi}")
        texts = {g["reason"]: g["text"] for g in drill["groups"]}
        for item in drill["items"]:
            if item["passed"] is False:
                expected.append((label, item["number"], "; ".join(item["reasons"])))
                groups.update((label, texts[code]) for code in dict.fromkeys(item["reason_codes"]))
    assert sorted(failed) == sorted(expected)
    # By hand: b late, e open, f's proof not accepted; f unsatisfied; d returned; f checked in far away.
    assert len(failed) == 6
    assert {(r["Figure"], r["Reason"]): r["Orders"] for r in records(book["Failures by reason"])} == groups
    assert groups[("Compliance", "returned as unqualified")] == 1


def test_a_chinese_user_gets_chinese_headers_and_sheet_names(client, auth, month):  # noqa: F811
    book = workbook(client, auth.token("manager") | ZH)
    assert book.sheetnames == ["摘要", "服务网点", "技师", "失败原因", "未达标工单"]
    header = [c.value for c in next(book["技师"].iter_rows(max_row=1))]
    assert header[:4] == ["排名", "技师", "服务网点", "工单"] and "24小时完成率" in header
    assert not [cell for cell in header if cell.isascii()]  # no English left
    summary = {r[0]: r[1] for r in book["摘要"].iter_rows(min_row=2, values_only=True)}
    assert summary["服务网点"] == "全部网点" and summary["24小时完成率"] == 0.4
    failed = list(book["未达标工单"].iter_rows(min_row=2, values_only=True))
    assert len(failed) == 6 and "被退回（不合格）" in [row[-1] for row in failed]


def pdf_text(client, headers, path: str = "/api/kpis/report.pdf?month=2026-11") -> tuple[str, int]:
    response = client.get(path, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf" and response.data[:5] == b"%PDF-"
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    for page in reader.pages:  # A4, the technicians' table in landscape
        assert sorted(round(float(x)) for x in (page.mediabox.width, page.mediabox.height)) == [595, 842]
    return "\n".join(p.extract_text() for p in reader.pages), len(reader.pages)


def test_the_pdf_shows_the_api_figures_in_english_and_chinese(client, auth, month):  # noqa: F811
    manager = auth.token("manager")
    (overall,) = api(client, manager, "/api/kpis?month=2026-11&by=all")["items"]
    text, pages = pdf_text(client, manager)
    flat = " ".join(text.split())
    for field in ("completion_24h_rate", "satisfaction_rate", "compliance_rate", "authenticity_rate"):
        assert f"{overall[field] * 100:.1f} %" in flat, field
    assert "40.0 %" in flat and "75.0 %" in flat
    assert "Monthly KPI report" in flat and "2026-11" in flat and "All outlets" in flat
    assert "Tech 2" in flat and "South" in flat  # South's best technician
    assert "All 1 technicians of the month, with every figure, are in the workbook (XLSX)." in flat
    assert "returned as unqualified" in flat  # failures by reason
    assert f"1 / {pages}" in flat  # page numbers
    zh, _ = pdf_text(client, manager | ZH)
    flat = " ".join(zh.split())
    assert "月度指标报告" in flat and "全部网点" in flat and "40.0 %" in flat
    assert "本月全部 1 名技师及其各项指标见工作簿（XLSX）。" in flat
    assert "Monthly KPI report" not in flat


def test_an_outlet_dispatcher_gets_their_outlet_only(client, auth, month, network, db_session):  # noqa: F811
    from core.accounts import create_user

    south = workbook(client, auth.token("south_dispatcher"))
    assert [r["Outlet"] for r in records(south["Outlets"])] == ["South"]
    assert [r["Technician"] for r in records(south["Technicians"])] == ["Tech 2"]
    assert {r[0]: r[1] for r in south["Summary"].iter_rows(min_row=2, values_only=True)}["Outlet"] == "South"
    create_user(db_session, "north_dispatcher", "north-pass-2026-long", "dispatcher", outlet_id=network.north.id)
    db_session.commit()
    north_token = auth.token("north_dispatcher", "north-pass-2026-long")
    north = workbook(client, north_token)
    assert {r[0]: r[1] for r in north["Summary"].iter_rows(min_row=2, values_only=True)}["Outlet"] == "North"
    assert records(north["Technicians"]) == [] and records(north["Failed orders"]) == []
    text, _ = pdf_text(client, north_token)
    assert "Tech 2" not in text and "North" in text


def test_bad_months_are_a_400_naming_the_month(client, auth, month):  # noqa: F811
    manager = auth.token("manager")
    for path in ("/api/kpis/report.xlsx?month=2026-13", "/api/kpis/report.pdf", "/api/kpis/report.pdf?month=x"):
        response = client.get(path, headers=manager)
        assert response.status_code == 400, path
        assert "month" in response.get_data(as_text=True)
    assert client.get("/api/kpis/report.xlsx?month=2026-11", headers=auth.token("tech1")).status_code == 403
    auth.login("manager")
    response = client.get("/kpis/report.pdf?month=2026-13")
    assert response.status_code == 400 and "month" in response.get_data(as_text=True)
    assert response.mimetype == "text/html"


def test_the_page_links_to_both_reports_and_serves_them(client, auth, month):  # noqa: F811
    auth.login("manager")
    html = client.get("/kpis?month=2026-11").get_data(as_text=True)
    assert "/kpis/report.xlsx?month=2026-11" in html and "/kpis/report.pdf?month=2026-11" in html
    assert client.get("/kpis/report.xlsx?month=2026-11").data[:2] == b"PK"
    assert client.get("/kpis/report.pdf?month=2026-11").data[:5] == b"%PDF-"


def test_a_technician_named_like_a_formula_stays_text_in_the_report(client, auth, month, db_session):  # noqa: F811
    from technicians.models import Technician
    from tests.integration.test_kpis import HOSTILE_NAME

    db_session.get(Technician, month["tech"]).name = HOSTILE_NAME
    db_session.commit()
    book = workbook(client, auth.token("manager"))
    (row,) = records(book["Technicians"])
    assert row["Technician"] == "'" + HOSTILE_NAME
    assert {r["Technician"] for r in records(book["Failed orders"])} == {"'" + HOSTILE_NAME}
    assert not any(c.data_type == "f" for sheet in book.worksheets for row in sheet.iter_rows() for c in row)
