"""The customer's tracking link where people need it: on the thank-you page after /request,
on the order page after a hotline intake (to read out), and re-issued from the order page.

Only the link's digest is stored, so a link can be shown only in the response that issued it:
the issuing request keeps the token in the signed session cookie of the browser that asked
(the customer's own, or the staff member's who may issue it anyway), and the next page shows
it once more on reload. Issuing another link replaces it there too.
"""

from __future__ import annotations

from typing import Any

import segno
from flask import abort, flash, redirect, session, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from core.errors import NotFound
from dispatch import customer
from web.auth import current_actor, roles_required
from web.extensions import csrf, db
from web.pages.base import bp
from web.wiring import notify_settings, tracking_url

SESSION_KEY = "issued_link"
ISSUERS = ("admin", "dispatcher")


def remember_link(key: str, token: str) -> None:
    """Keep the token for the page that shows it (`key`: "request:<number>" or "order:<id>")."""
    session[SESSION_KEY] = {"key": key, "token": token}


def issued_link(key: str) -> dict[str, Any] | None:
    """The link issued in this browser for `key`, as the url and its QR code (inline SVG)."""
    issued = session.get(SESSION_KEY)
    if not isinstance(issued, dict) or issued.get("key") != key or not issued.get("token"):
        return None
    url = tracking_url(issued["token"])
    qr = segno.make(url, error="m").svg_inline(scale=4, title=_("Scan to open your tracking page"))
    return {"url": url, "qr": Markup(qr)}  # segno escapes the text it writes into the SVG


@bp.app_context_processor
def _links() -> dict[str, Any]:
    return {"issued_link": issued_link}


@bp.post("/orders/<int:order_id>/tracking-link")
@roles_required(*ISSUERS)
def order_tracking_link(order_id: int):
    """A new link for the customer, sent to their phone where a gateway is configured; the
    previous link stops working."""
    csrf.protect()
    try:
        token, sent = customer.reissue_tracking_link(
            db.session, order_id, current_actor(), notify=notify_settings(), link_for=tracking_url
        )
    except NotFound:
        abort(404)
    remember_link(f"order:{order_id}", token)
    if sent:
        flash(_("A new link was sent to the customer's phone; the previous link no longer works."), "info")
    else:
        flash(_("A new link was made; the previous link no longer works. Give it to the customer."), "info")
    return redirect(url_for("pages.order_detail", order_id=order_id) + "#tracking-link")
