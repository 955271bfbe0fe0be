"""Human labels for the domain's codes, in the user's language (templates use `labels`)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATUS = {
    "new": _l("New"),
    "assigned": _l("Assigned"),
    "accepted": _l("Accepted"),
    "en_route": _l("En route"),
    "on_site": _l("On site"),
    "completed": _l("Completed"),
    "closed": _l("Closed"),
    "returned": _l("Returned"),
    "cancelled": _l("Cancelled"),
    "waiting_parts": _l("Waiting for parts"),
}
ACTION = {
    "created": _l("Created"),
    "assign": _l("Assign"),
    "unassign": _l("Unassign"),
    "accept": _l("Accept"),
    "reject": _l("Reject"),
    "contact": _l("Customer contacted"),
    "depart": _l("Set off"),
    "arrive": _l("Arrived on site"),
    "complete": _l("Complete"),
    "return": _l("Return for a second visit"),
    "close": _l("Close"),
    "cancel": _l("Cancel"),
    "priority": _l("Priority changed"),
    "resequence": _l("Moved in the technician's day"),
    "pin": _l("Pinned in place"),
    "unpin": _l("Released to the optimiser"),
    "geocoded": _l("Address located"),
    "relocated": _l("Address corrected"),
    "sla_warning": _l("SLA warning"),
    "sla_breach": _l("SLA breached"),
    "sla_escalation": _l("Escalated to the manager"),
    "photo": _l("Proof photo"),
    "authenticity_review": _l("Authenticity reviewed"),
    "customer_note": _l("Note from the customer"),
    "rescheduled": _l("Rescheduled by the customer"),
    "survey": _l("Survey answered"),
    "callback": _l("Callback"),
    "tracking_link": _l("New tracking link"),
    "completion_report": _l("Completion report"),
    "complaint_opened": _l("Complaint opened"),
    "complaint_escalated": _l("Complaint escalated"),
    "complaint_transferred": _l("Complaint handed over"),
    "complaint_milestone": _l("Complaint step recorded"),
    "compensation_added": _l("Compensation proposed"),
    "compensation_approved": _l("Compensation approved"),
    "settlement_requested": _l("Settlement requested from the outlet"),
    "compensation_settled": _l("Compensation settled with the outlet"),
    "need_part": _l("Waiting for a part"),
    "part_arrived": _l("Part arrived"),
}
# Why a technician dropped out (technicians.availability.DROP_OUT_REASONS).
DROP_OUT_REASON = {"sick": _l("Sick"), "vehicle": _l("Vehicle broken down"), "other": _l("Other reason")}
ROLE = {
    "admin": _l("Administrator"),
    "dispatcher": _l("Dispatcher"),
    "technician": _l("Technician"),
    "manager": _l("Manager"),
    "customer": _l("Customer"),
    "system": _l("System"),
}
CHANNEL = {
    "hotline": _l("Hotline"),
    "web": _l("Web form"),
    "wechat": _l("WeChat"),
    "app": _l("App"),
    "email": _l("E-mail"),
    "walk_in": _l("Walk-in"),
    "api": _l("API"),
}
PRIORITY = {"normal": _l("Normal"), "urgent": _l("Urgent"), "vip": _l("VIP")}
ISSUE = {
    "repair": _l("Repair"),
    "installation": _l("Installation"),
    "maintenance": _l("Maintenance"),
    "complaint": _l("Complaint"),
}
NO_FIT = {
    "no_skill": _l("no technician has the skill"),
    "no_shift": _l("nobody with the skill works in the coming days"),
    "no_capacity_or_time": _l("the coming days are fully booked for everyone with the skill"),
    "window_unreachable": _l("the appointment window cannot be reached"),
    "no_location": _l("the address has not been located"),
}
# What an appointment slot costs the plan (dispatch/planning/slots.py), as a customer reads it.
SLOT_LABELS = {"best": _l("recommended"), "good": _l("fits well"), "possible": _l("available")}
CLOCK = {
    "contact": _l("Contact the customer"),
    "arrival": _l("Arrive on site"),
    "completion": _l("Complete (24-hour promise)"),
    "callback": _l("Call back"),
}
# The completion checklist's items (dispatch/phone_actions.py DEFAULT_CHECKLISTS, config TECH_CHECKLISTS).
CHECKLIST = {
    "diagnose": _l("Diagnosed the fault"),
    "replace_parts": _l("Replaced the faulty parts"),
    "test_run": _l("Test run passed"),
    "explain_to_customer": _l("Explained the work to the customer"),
    "clean_up": _l("Cleaned up the site"),
    "check_site": _l("Checked the site and supply"),
    "mount": _l("Mounted the unit"),
    "connect": _l("Connected water, power or gas"),
    "inspect": _l("Inspected the unit"),
    "clean": _l("Cleaned the unit"),
    "listen": _l("Heard the customer out"),
    "resolve": _l("Resolved the complaint"),
}
# What a callback may find wrong (dispatch/customer.py PROBLEMS).
CALLBACK_PROBLEM = {
    "no_service_card": _l("No service card left"),
    "fee_not_per_price_list": _l("Fee not per the price list"),
    "no_work_id_shown": _l("No work ID shown at the door"),
    "not_cleaned_up": _l("Site not cleaned up"),
    "rude": _l("Rude to the customer"),
    "other": _l("Other problem (say in the note)"),
    "no_visit": _l("The customer says nobody came"),
}
KPI = {
    "completion_24h": _l("24-hour completion"),
    "satisfaction": _l("Satisfaction"),
    "compliance": _l("Compliance"),
    "authenticity": _l("Authenticity"),
    "repeat_repairs": _l("Repeat repairs"),
}
# The authenticity engine's reason codes (dispatch/authenticity.py), its severities and verdicts.
AUTHENTICITY_REASONS = {
    "no_photo": _l("No proof photo"),
    "no_checkin_location": _l("Checked in without a position"),
    "checkin_far": _l("Checked in away from the address"),
    "photo_reused": _l("Photo is a copy of one on another order"),
    "photo_similar_to_other_order": _l("Photo looks like one on another order"),
    "photo_gps_far": _l("Photo taken away from the address"),
    "photo_time_outside_visit": _l("Photo taken outside the visit"),
    "uploaded_away_from_address": _l("Photo uploaded away from the address"),
    "gallery_only": _l("Photos only from the gallery, none from the camera"),
    "customer_denies_visit": _l("The customer says nobody came"),
    "customer_confirmed_visit": _l("The customer confirmed the visit at callback"),
}
SEVERITY = {"fail": _l("fails"), "doubt": _l("doubtful"), "ok": _l("confirms")}
VERDICT = {"verified": _l("verified"), "doubtful": _l("doubtful"), "failed": _l("failed")}
GEOCODE = {"ok": _l("located"), "failed": _l("geocoder unavailable"), "not_found": _l("address not found")}

# Messages the domain raises (plain English there); listed so that they are translated.
DOMAIN_MESSAGES = (
    _l("is required"),
    _l("is not a phone number"),
    _l("is not a valid phone number"),
    _l("must be a mobile number"),
    _l("Validation error"),
    _l("give both latitude and longitude, or neither"),
    _l("must be a latitude between -90 and 90"),
    _l("must be a longitude between -180 and 180"),
    _l("give both ends of the window, or neither"),
    _l("must be after appointment_start"),
    _l("must be in the future"),
    _l("must not be empty"),
    _l("must be after shift_start"),
    _l("must be between 1 and 30 orders a day"),
    _l("use ISO weekday digits 1–7, e.g. 12345 for Monday to Friday"),
    _l("only the technician assigned to this order may do that"),
    _l("you may assign orders only to technicians of your own outlet"),
    _l("must be at most 100 characters"),
    _l("must be at most 255 characters"),
    _l("must be at most 2000 characters"),
    _l("is already the login of another technician"),
    _l("must be an existing account with the technician role"),
    _l("a reason is required to cancel an order"),
    # closing a KPI month that is not final (dispatch/kpis/closing.py)
    _l("%(month)s has not ended yet; confirm to close it now"),
    _l(
        "%(month)s is not final yet: %(pending_24h)s orders still within their 24 hours, "
        "%(awaiting_score)s awaiting the customer's score, %(repairs_pending)s repairs still within "
        "their 30 days; confirm to close it now"
    ),
    _l("a reason is required to reject an order"),
    _l("a reason is required to return an order"),
    _l("is required to assign an order"),
    _l("Wrong username or password."),
    _l("within 30 days"),
    _l("within 90 days"),
    # numbers and dates people type (core/numbers.py, core/dates.py, dispatch/kpis/facts.py)
    _l("must be a whole number from 1 to 2147483647, in digits 0-9"),
    _l("must be in the years 2000 to 2099"),
    _l("use YYYY-MM (years 1900-2199), e.g. 2026-11"),
    # passwords (core/security.py, core/accounts.py)
    _l("must be at least 10 characters"),
    _l("must mix letters with digits or symbols"),
    _l("is not your current password"),
    _l("must differ from the current password"),
)

# Why a proof photo was refused (dispatch/photos/, dispatch/photos/budget.py).
PHOTO_MESSAGES = (
    _l("the file is empty"),
    _l("is not a JPEG, PNG or WebP image"),
    _l("is damaged or truncated"),
    _l("has more pixels than a photo may have"),
    _l("is longer or wider than a photo may be"),
    _l("would take more memory to open than a photo may"),
    _l("has more pixels than any photo should (decompression bomb)"),
    _l("the server is busy opening other photos; try again in a few seconds"),
)


class Labels:
    status = STATUS
    action = ACTION
    role = ROLE
    channel = CHANNEL
    priority = PRIORITY
    issue = ISSUE
    geocode = GEOCODE
    no_fit = NO_FIT
    clock = CLOCK
    kpi = KPI
    checklist = CHECKLIST
