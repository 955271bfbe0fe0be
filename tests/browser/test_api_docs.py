"""/api/docs in Chromium: Swagger UI from the vendored files renders every operation, under
the app's CSP (the `page` fixture fails the test on any violation Chromium reports)."""

from __future__ import annotations


def test_the_api_reference_renders_its_operations_under_the_content_security_policy(page, live_server):
    base, _app = live_server
    response = page.goto(f"{base}/api/docs")
    assert response.status == 200
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock", timeout=15_000)
    summaries = page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/orders" in summaries
    assert "/api/orders/{order_id}/transitions" in summaries
    assert page.locator(".opblock").count() > 50
    assert page.locator(".info .title").first.inner_text().startswith("Field-service dispatch API")
