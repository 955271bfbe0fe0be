"""The policy lab's page and API: a manager starts a run, follows its progress, reads the
report; other roles are refused; bad input is a 400 naming the field."""

from __future__ import annotations

import time

import pytest

SMALL = {"days": 1, "policies": ["baseline", "instant"], "seeds": 1, "orders_per_day": 3, "technicians": 2}


def _wait(client, headers, run_id: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/lab/runs/{run_id}", headers=headers).get_json()
        if run["status"] != "running":
            return run
        time.sleep(0.5)
    raise AssertionError("the run did not finish")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_manager_starts_a_run_follows_its_progress_and_reads_its_report(app, client, auth, network):
    manager = auth.token("manager")
    started = client.post("/api/lab/runs", json=SMALL, headers=manager)
    assert started.status_code == 202, started.get_json()
    run = started.get_json()
    assert run["status"] == "running" and 0 <= run["progress"] <= 1
    # One run at a time: a second start while it runs is a conflict, not a second thread.
    again = client.post("/api/lab/runs", json=SMALL, headers=manager)
    assert again.status_code in (202, 409)
    if again.status_code == 202:  # the first one was already done
        run = again.get_json()
    done = _wait(client, manager, run["id"])
    assert done["status"] == "done" and done["progress"] == 1
    names = [p["name"] for p in done["report"]["policies"]]
    assert names == ["baseline", "instant"]
    assert done["report"]["hindsight"]["km"]["n"] == 1
    # The page shows the same run: its report in the manager's language.
    auth.login("manager")
    page = client.get(f"/lab/runs/{run['id']}", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "事后最优" in html and "24小时完成率" in html


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_page_form_starts_a_run_and_names_a_bad_field(app, client, auth, network, csrf_from):
    auth.login("admin")
    form = client.get("/lab")
    assert form.status_code == 200
    token = csrf_from(form.get_data(as_text=True))
    bad = client.post("/lab", data={"csrf_token": token, "days": "99", "seeds": "1", "policies": ["baseline"]})
    assert bad.status_code == 400
    assert 'data-field="days"' in bad.get_data(as_text=True)
    half_shift = client.post(
        "/lab", data={"csrf_token": token, "days": "1", "seeds": "1", "policies": ["baseline"], "shift_start": "09:00"}
    )
    assert half_shift.status_code == 400 and 'data-field="shift_end"' in half_shift.get_data(as_text=True)
    ok = client.post(
        "/lab",
        data={"csrf_token": token, "days": "1", "seeds": "1", "policies": ["baseline"], "orders_per_day": "2",
              "technicians": "1"},
    )  # fmt: skip
    assert ok.status_code == 302 and "/lab/runs/" in ok.headers["Location"]
    run_id = int(ok.headers["Location"].rsplit("/", 1)[1])
    progress = client.get(f"/lab/runs/{run_id}")
    assert progress.status_code == 200
    app.extensions["lab_runs"].wait(run_id, 120)


def test_dispatchers_and_technicians_may_not_run_the_lab(app, client, auth, network):
    assert client.post("/api/lab/runs", json=SMALL, headers=auth.token("dispatcher")).status_code == 403
    assert client.post("/api/lab/runs", json=SMALL, headers=auth.token("tech1")).status_code == 403
    assert client.post("/api/lab/runs", json=SMALL).status_code == 401


def test_bad_input_is_a_400_naming_the_field(app, client, auth, network):
    manager = auth.token("manager")
    for body, field in (
        ({**SMALL, "days": 0}, "days"),
        ({**SMALL, "policies": ["guesswork"]}, "policies"),
        ({**SMALL, "policies": []}, "policies"),
        ({**SMALL, "shift": "18:00-08:00"}, "shift"),
        ({**SMALL, "shift": "8-18"}, "shift"),
    ):
        response = client.post("/api/lab/runs", json=body, headers=manager)
        assert response.status_code == 400, (body, response.get_json())
        assert field in str(response.get_json()), response.get_json()
    assert client.get("/api/lab/runs/424242", headers=manager).status_code == 404
