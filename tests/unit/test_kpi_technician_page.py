"""The KPI page's technician table, 50 a page of thousands, sorted by the server."""

import pytest

from dispatch.kpis.report import technician_page


def techs(n: int) -> list[dict]:
    """Ranked as month_report ranks them: by 24-hour completion, best first; every third
    technician nobody has scored."""
    return [
        {"key": i, "name": f"T{i}", "orders": 100 - i, "completion_24h_rate": 1 - i / n,
         "satisfaction_rate": None if i % 3 == 0 else (i % 7) / 7}
        for i in range(n)
    ]  # fmt: skip


def test_pages_of_fifty_keep_the_ranking():
    page = technician_page(techs(120), page=3)
    assert (page.total, page.pages, page.page) == (120, 3, 3)
    assert [r["rank"] for r in page.items] == list(range(101, 121))
    assert technician_page(techs(120), page=9).page == 3  # past the last: the last


def test_a_figure_sorts_either_way_with_the_unscored_last():
    rows = techs(120)
    for descending in (False, True):
        items = [r for p in (1, 2, 3) for r in technician_page(rows, "satisfaction_rate", descending, p).items]
        values = [r["satisfaction_rate"] for r in items]
        scored = [v for v in values if v is not None]
        assert scored == sorted(scored, reverse=descending)
        assert values[len(scored) :] == [None] * 40
        assert sorted(r["key"] for r in items) == list(range(120))  # every technician once
    # Ties keep the ranking's order (the rank says where each stands by 24-hour completion).
    first = technician_page(rows, "satisfaction_rate", False).items
    tied = [r["rank"] for r in first if r["satisfaction_rate"] == first[0]["satisfaction_rate"]]
    assert tied == sorted(tied)


def test_an_unknown_sort_key_is_refused():
    with pytest.raises(ValueError):
        technician_page(techs(3), "name; drop table")
