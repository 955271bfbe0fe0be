"""/api/docs: the OpenAPI document in Swagger UI, from files vendored from npm (swagger-ui-dist,
copied by `make vendor`) and started by web/static/api-docs.js, so the page runs under the app's
Content-Security-Policy (no inline script, nothing from a CDN). APIFlask's own docs page loads
Swagger UI from a CDN with an inline script, which the policy blocks: it is switched off
(`docs_path=None` in create_app)."""

from __future__ import annotations

from flask import render_template

from web.pages.base import bp


@bp.get("/api/docs")
def api_docs():
    """The API's reference, browsable and tryable (calls go out with the browser's session)."""
    return render_template("api_docs.html")
