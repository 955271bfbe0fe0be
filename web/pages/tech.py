"""The technician's phone app (an installable PWA): a shell page, its service worker, its manifest.

tech.js loads `GET /api/tech/today`, acts through the API, queues actions in IndexedDB while
offline and follows Socket.IO. Every string it shows comes from here, translated, in a JSON
data block (no inline script).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from flask import Response, current_app, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from dispatch.phone_actions import DEFAULT_CHECKLISTS
from technicians.models import Skill, Technician
from web.auth import current_actor, name_the_owner, roles_required
from web.extensions import db
from web.filters import day_words, visit_format
from web.labels import Labels
from web.pages.base import bp

STATIC = Path(__file__).resolve().parent.parent / "static"


def _strings() -> dict[str, str]:
    return {
        "today": _("Today"),
        "no_orders": _("No work for today."),
        "loading": _("Loading…"),
        "eta": _("ETA"),
        "due": _("Due"),
        "due_in": _("due in"),
        "overdue": _("overdue by"),
        "hours_short": _("h"),
        "minutes_short": _("min"),
        "call": _("Call"),
        "navigate": _("Navigate"),
        "back": _("Back"),
        "history": _("Earlier orders at this address"),
        "no_history": _("No earlier orders here."),
        "returned_title": _("Second visit: the last one did not count"),
        "return_reason": _("Why it was returned"),
        "fix_now": _("What this visit must fix"),
        "product": _("Product"),
        "customer": _("Customer"),
        "address": _("Address"),
        "warranty": _("Warranty"),
        "issue": _("Issue"),
        "description": _("Description"),
        "appointment": _("Appointment"),
        "in_warranty": _("In warranty"),
        "out_of_warranty": _("Out of warranty"),
        "reject_reason": _("Why are you rejecting this order?"),
        "reason_required": _("A reason is required."),
        "locating": _("Getting your position…"),
        "no_position": _("Your position is needed to check in. Allow location and try again."),
        "accuracy": _("accuracy"),
        "completion": _("Completion report"),
        "checklist": _("Checklist"),
        "parts": _("Parts used"),
        "part_name": _("Part"),
        "qty": _("Qty"),
        "add_part": _("Add a part"),
        "remove": _("Remove"),
        "fee": _("Fee (yuan)"),
        "fee_note": _("Why is an in-warranty job charged?"),
        "fee_note_required": _("Say why an in-warranty job is charged."),
        "notes": _("Notes"),
        "photos": _("Proof photos"),
        "take_photo": _("Take a photo"),
        "from_gallery": _("From the gallery"),
        "photo_needed": _("Add at least one photo of this visit."),
        "uploading": _("Uploading"),
        "uploaded": _("Uploaded"),
        "upload_failed": _("Upload failed"),
        "retry": _("Retry"),
        "queued_photo": _("Saved; uploads when online"),
        "submit_completion": _("Complete the job"),
        "online": _("Online"),
        "offline": _("Offline — actions are saved and sent when back online"),
        "pending": _("waiting to send"),
        "syncing": _("Sending saved actions…"),
        "synced": _("All saved actions sent."),
        "conflict": _("Conflict: this order was changed or reassigned by the dispatcher. Your action was not applied."),
        "not_yours": _("This order is no longer yours."),
        "error": _("That did not work"),
        "new_assignment": _("New order assigned"),
        "order_changed": _("Order updated"),
        "order_removed": _("Order taken off your list"),
        "dismiss": _("Dismiss"),
        "done": _("Done."),
        "completed_today": _("Completed today"),
        "visit": _("Visit"),
        "report_saved": _("Report saved"),
        "not_planned": _("Not planned yet"),
        "live": _("live"),
        "accept_and_depart": _("Accept and set off"),
        "done_next": _("%(number)s is done. Your next stop:"),
        "done_all": _("%(number)s is done. That was your last job for today."),
        "no_fix": _("No position came from your phone. Step outside or near a window and tap again."),
        "ready_photo": _("Goes with the report when you complete"),
        "remove_photo": _("Remove this photo"),
        "part_missing": _("Say which part is needed."),
        "part_qty": _("The quantity is a whole number from 1 to 999."),
        "part_date": _("Give the day the part is expected (today or later)."),
        "part_waiting": _("%(number)s waits for its part and has left your route."),
        "logout_pending": _("Some actions have not been sent yet. Logging out discards them. Log out anyway?"),
    }


def _product_names() -> dict[str, str]:
    zh = str(get_locale()).startswith("zh")
    return {s.code: (s.name_zh if zh else s.name_en) or s.code for s in db.session.query(Skill).all()}


@bp.get("/tech")
@roles_required("technician")
def tech():
    """The technician's phone app."""
    config = current_app.config
    table = config.get("TECH_CHECKLISTS") or DEFAULT_CHECKLISTS
    items = {code for codes in table.values() for code in codes}
    settings = {
        "strings": _strings(),
        "status": {k: str(v) for k, v in Labels.status.items()},
        "action": {k: str(v) for k, v in Labels.action.items()},
        "priority": {k: str(v) for k, v in Labels.priority.items()},
        "issue": {k: str(v) for k, v in Labels.issue.items()},
        "checklist": {code: str(Labels.checklist.get(code, code)) for code in sorted(items)},
        "products": _product_names(),
        "timezone": config["APP_TIMEZONE"],
        "user_id": current_user.id,
        "technician_id": current_actor().technician_id,
        "sw_url": url_for("pages.tech_service_worker"),
        "scope": url_for("pages.tech"),
        "position_every_s": config.get("TECH_POSITION_EVERY_S", 60),
        # A later day's order reads "tomorrow, 09:00–11:00" (the day words by local date).
        "days": day_words(),
        "visit_format": visit_format(),
    }
    name_the_owner()
    technician = db.session.get(Technician, settings["technician_id"]) if settings["technician_id"] else None
    return render_template("tech.html", settings=settings, technician_name=technician.name if technician else None)


SHELL_FILES = (
    "common.js",
    "tech.js",
    "tech.css",
    "app.css",
    "vendor/socket.io.min.js",
    "tech-icon.svg",
    "manifest.webmanifest",
)


@functools.cache
def shell_version() -> str:
    """A hash of the shell's static files: the service worker's cache name (read once per
    process; a deploy restarts the workers)."""
    digest = hashlib.sha256()
    for name in SHELL_FILES:
        path = STATIC / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:12]


@bp.get("/tech/sw.js")
def tech_service_worker():
    """The service worker, served under /tech so that it may control the app's page."""
    script = (STATIC / "sw.js").read_text().replace('"tech-shell-v1"', f'"tech-shell-{shell_version()}"', 1)
    response = Response(script, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = url_for("pages.tech")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/tech/manifest.webmanifest")
def tech_manifest():
    """The web app manifest (installable on the home screen)."""
    return Response((STATIC / "manifest.webmanifest").read_bytes(), mimetype="application/manifest+json")
