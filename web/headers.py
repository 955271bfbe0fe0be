"""Security headers for every response (Flask-Talisman): a Content-Security-Policy without
'unsafe-inline', no framing, no MIME sniffing, a strict referrer policy, HSTS in production.

The pages are built for it: scripts are files under /static, page data rides in
<script type="application/json"> blocks that browsers never execute, and no template or
script writes inline styles or event-handler attributes. The browser tests fail on any CSP
violation Chromium reports (tests/browser/conftest.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask_talisman import Talisman


def tile_source(url_template: str) -> str | None:
    """The CSP source for a Leaflet tile URL template ('{s}' subdomains become a wildcard)."""
    if not url_template:
        return None
    parts = urlsplit(url_template.replace("{s}", "x"))
    if not parts.scheme or not parts.netloc:
        return None
    host = parts.netloc
    if "{s}" in url_template.split("//", 1)[-1].split("/", 1)[0]:
        host = "*." + host.split(".", 1)[1]
    return f"{parts.scheme}://{host}"


def content_security_policy(app: Flask) -> dict[str, str | list[str]]:
    images = ["'self'", "data:", "blob:"]
    tiles = tile_source(app.config.get("MAP_TILE_URL", ""))
    if tiles:
        images.append(tiles)
    return {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "img-src": images,
        "connect-src": "'self'",  # Socket.IO's ws:/wss: to this origin is 'self' in CSP 3
        "font-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
        "manifest-src": "'self'",
        "worker-src": "'self'",
    }


def register(app: Flask) -> None:
    production = app.config["APP_ENV"] == "production"
    Talisman(
        app,
        content_security_policy=content_security_policy(app),
        # TLS ends at the reverse proxy, which redirects plain HTTP (deploy/nginx.conf);
        # FORCE_HTTPS=1 makes the app redirect too when no proxy does.
        force_https=app.config.get("FORCE_HTTPS", False),
        strict_transport_security=production,
        strict_transport_security_max_age=31536000,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        permissions_policy={"geolocation": "(self)", "camera": "(self)", "microphone": "()"},
    )
