"""Which technicians the PDF a manager hands in names: each outlet's best and worst five."""

from dispatch.kpis.handin import best_and_worst


def tech(name: str, outlet: int | None, rate: float | None) -> dict:
    return {"name": name, "outlet_id": outlet, "completion_24h_rate": rate}


def names(rows: list[dict]) -> list[str]:
    return [r["name"] for r in rows]


def test_each_outlet_gets_its_best_five_and_worst_five_worst_first():
    rows = [tech(f"A{i:02d}", 1, i / 20) for i in range(14)] + [tech("B1", 2, 0.5), tech("B2", 2, None)]
    found = best_and_worst(rows)
    assert names(found[1]["best"]) == ["A13", "A12", "A11", "A10", "A09"]
    assert names(found[1]["worst"]) == ["A00", "A01", "A02", "A03", "A04"]
    # An outlet's only rated technician is among the best, not also among the worst; a
    # technician without a decided order is in neither list.
    assert names(found[2]["best"]) == ["B1"] and found[2]["worst"] == []


def test_a_small_outlet_shows_each_technician_once():
    rows = [tech(f"T{i}", 3, r) for i, r in enumerate([0.9, 0.1, 0.5, 0.7, 0.3, 0.2, 0.8])]
    found = best_and_worst(rows)[3]
    assert names(found["best"]) == ["T0", "T6", "T3", "T2", "T4"]
    assert names(found["worst"]) == ["T1", "T5"]
    assert not set(names(found["best"])) & set(names(found["worst"]))
