"""Errors outside the API are HTML pages in the user's language with a way back; the API
keeps its JSON. Every status a page can answer with: 400, 403, 404, 405, 410, 413, 429, 500, 503."""

from __future__ import annotations

import pytest

from tests.integration.helpers import database_gone
from tests.integration.test_pages import html_of

ZH, EN = {"Accept-Language": "zh-CN"}, {"Accept-Language": "en"}


def error_page(response, status: int, words: str) -> str:
    html = html_of(response)
    assert response.status_code == status, html[:300]
    assert response.mimetype == "text/html", "a page, never JSON"
    assert f'data-status="{status}"' in html and words in html
    assert 'id="error-home"' in html, "a way back"
    return html


@pytest.fixture
def app_config(app_config):
    """Like production: an unexpected exception becomes a 500 page instead of reaching the test."""
    return {**app_config, "PROPAGATE_EXCEPTIONS": False, "MAX_CONTENT_LENGTH": 1024, "LOGIN_LIMIT": "2 per minute"}


def test_an_unknown_address_is_a_page_in_the_users_language(client):
    error_page(client.get("/no/such/page", headers=ZH), 404, "页面不存在")
    error_page(client.get("/no/such/page", headers=EN), 404, "This page does not exist")
    # The page links back to where the user came from on this site, never elsewhere.
    html = error_page(client.get("/nope", headers={**EN, "Referer": "http://localhost/request"}), 404, "does not exist")
    assert 'id="error-back" href="http://localhost/request"' in html
    html = error_page(client.get("/nope", headers={**EN, "Referer": "https://evil.example/x"}), 404, "does not exist")
    assert "evil.example" not in html


def test_the_api_keeps_its_json(client):
    response = client.get("/api/no/such/thing", headers=ZH)
    assert response.status_code == 404 and response.get_json()["status"] == 404


def test_a_wrong_method_is_a_405_page_that_still_says_what_is_allowed(client):
    response = client.get("/orders/1/tracking-link", headers=ZH)
    error_page(response, 405, "此处不能进行该操作")
    assert "POST" in response.headers["Allow"]


def test_a_page_for_another_role_is_a_403_page(client, auth, network):
    auth.login("tech1")
    error_page(client.get("/hotline", headers=ZH), 403, "您无权打开此页面")


def test_a_malformed_form_is_a_400_page(client, auth, network, csrf_from):
    auth.login("dispatcher")
    token = csrf_from(html_of(client.get("/hotline")))
    error_page(client.post("/orders/1/transition", data={"csrf_token": token}, headers=EN), 400, "was not right")


def test_too_large_a_request_is_a_413_page(client):
    error_page(client.post("/request", data={"description": "x" * 4096}, headers=ZH), 413, "提交的内容过大")


def test_too_many_logins_are_a_429_page(client, network, csrf_from):
    token = csrf_from(html_of(client.get("/login")))
    wrong = {"username": "dispatcher", "password": "wrong-pass-1", "csrf_token": token}
    for _ in range(2):
        assert client.post("/login", data=wrong).status_code != 429
    error_page(client.post("/login", data=wrong, headers=ZH), 429, "尝试次数过多")


def test_an_unexpected_failure_is_a_500_page(app, client, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("web.pages.intake._skill_choices", broken)
    error_page(client.get("/request", headers=ZH), 500, "系统出错了")


def test_a_database_outage_is_a_503_page(client, monkeypatch):
    monkeypatch.setattr("web.pages.intake._skill_choices", database_gone)
    response = client.get("/request", headers=EN)
    error_page(response, 503, "briefly unavailable")
    assert response.headers["Retry-After"] == "5"


def test_an_expired_link_elsewhere_is_a_410_page(app, client):
    from werkzeug.exceptions import Gone

    @app.get("/gone-for-test")  # the app has served nothing yet: a route may still be added
    def gone():
        raise Gone()

    error_page(client.get("/gone-for-test", headers=EN), 410, "no longer available")
