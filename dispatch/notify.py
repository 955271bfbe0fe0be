"""Notices outside the app: who hears about a warning, a breach or an escalation, the outbox
they wait in, and the senders that deliver them (SMS, WeChat, e-mail, webhook).

The board and the technician's phone always hear about every event over Socket.IO; this
module is for the channels an operator configures. A channel without configuration is not
used. Delivery is at least once: a row is marked sent only after its sender returned.
"""

from __future__ import annotations

import functools
import json
import logging
import smtplib
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from gettext import NullTranslations
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from babel.support import Translations
from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.accounts import User
from core.db import unit_of_work
from core.localtime import DEFAULT_TIMEZONE
from core.phones import can_take_texts
from dispatch.models import Compensation, Complaint, Notification, WorkOrder
from dispatch.permissions import covers_outlet
from technicians.models import Technician

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class NotifySettings:
    """Which channels are on, and where their gateways are (all optional)."""

    sms_url: str | None = None
    wechat_url: str | None = None
    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "dispatch@localhost"
    escalate_after: timedelta = timedelta(hours=4)
    timeout_s: float = 5.0
    extra: Mapping[str, Any] = field(default_factory=dict)
    # Due times in notices are local times; texts come from the interface's catalogues.
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))
    # The interface's message catalogues (web/translations, handed in by the app's config);
    # without them notices go out in the catalogues' source language, English.
    translations_dir: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NotifySettings:
        return cls(
            sms_url=config.get("NOTIFY_SMS_URL") or None,
            wechat_url=config.get("NOTIFY_WECHAT_URL") or None,
            webhook_url=config.get("NOTIFY_WEBHOOK_URL") or None,
            smtp_host=config.get("NOTIFY_SMTP_HOST") or None,
            smtp_port=int(config.get("NOTIFY_SMTP_PORT") or cls.smtp_port),
            mail_from=config.get("NOTIFY_MAIL_FROM") or cls.mail_from,
            escalate_after=(
                timedelta(hours=float(config["SLA_ESCALATE_AFTER_HOURS"]))
                if config.get("SLA_ESCALATE_AFTER_HOURS") is not None
                else cls.escalate_after
            ),
            timezone=config.get("TIMEZONE") or ZoneInfo(config.get("APP_TIMEZONE") or DEFAULT_TIMEZONE),
            translations_dir=config.get("TRANSLATIONS_DIR"),
        )


# --- who hears what -----------------------------------------------------------------

TEXT = {
    "sla_warning": "工单 {number} 的{clock}时限即将到期（{due}）/ Order {number}: {clock} deadline at {due} is near",
    "sla_breach": "工单 {number} 已超出{clock}时限（{due}）/ Order {number} missed its {clock} deadline ({due})",
    "sla_escalation": "工单 {number} 超时未完成，已升级 / Order {number} is still open long after its deadline: escalated",
}
CLOCK_ZH = {"contact": "联系", "arrival": "上门", "completion": "完工", "callback": "回访"}


def notices_for(
    session: Session, settings: NotifySettings, marked: Iterable[tuple[str, int, str, datetime]]
) -> list[dict[str, Any]]:
    """Outbox rows for swept (kind, order id, clock, due) marks.

    A warning goes to the order's technician (SMS, WeChat); a breach to the outlet's
    dispatchers and managers (e-mail, SMS) and the webhook; an escalation to the managers.
    The first responder stays the owner: escalation informs, it does not reassign.
    A complaint clock's notices go to the complaint's people instead (`_complaint_notices`).
    """
    marked = list(marked)
    if not marked:
        return []
    orders = {o.id: o for o in session.scalars(select(WorkOrder).where(WorkOrder.id.in_({m[1] for m in marked})))}
    tech_ids = {o.technician_id for o in orders.values() if o.technician_id}
    techs = {t.id: t for t in session.scalars(select(Technician).where(Technician.id.in_(tech_ids)))}
    outlet_ids = {o.outlet_id for o in orders.values()}
    staff = list(
        session.scalars(
            select(User).where(
                User.active.is_(True),
                User.role.in_(["dispatcher", "manager"]),
                or_(User.outlet_id.is_(None), User.outlet_id.in_([i for i in outlet_ids if i is not None])),
            )
        )
    )
    rows: list[dict[str, Any]] = []
    complaint_marks = [m for m in marked if m[2] in COMPLAINT_CLOCK_LABELS]
    if complaint_marks:
        rows += _complaint_notices(session, settings, complaint_marks, orders, staff)
    for kind, order_id, clock, due in marked:
        if clock in COMPLAINT_CLOCK_LABELS:
            continue
        order = orders[order_id]
        text = TEXT[kind].format(number=order.number, clock=CLOCK_ZH.get(clock, clock), due=due.strftime("%m-%d %H:%M"))
        targets: list[tuple[str, str]] = []
        if kind == "sla_warning" and order.technician_id in techs:
            phone = techs[order.technician_id].phone
            targets += [("sms", phone), ("wechat", phone)]
        if kind in ("sla_breach", "sla_escalation"):
            roles = ("manager",) if kind == "sla_escalation" else ("dispatcher", "manager")
            for user in staff:
                if user.role in roles and covers_outlet(user.outlet_id, order.outlet_id):
                    targets += [("email", user.email), ("sms", user.phone)]
            targets.append(("webhook", "webhook"))
        for channel, recipient in targets:
            if recipient and _channel_on(settings, channel):
                rows.append({
                    "channel": channel, "recipient": recipient, "kind": kind, "order_id": order_id,
                    "subject": text.split(" / ")[0], "body": text,
                    "dedup_key": f"{kind}:{order_id}:{clock}:{channel}:{recipient}"[:200],
                })  # fmt: skip
    return rows


# --- complaints: the owner hears first, then each level the complaint has reached ---------


def N_(message: str) -> str:
    """Marks a message for the catalogue (pybabel's default keywords); translated per
    recipient when the notice is written, not here."""
    return message


COMPLAINT_CLOCK_LABELS = {
    "cmp_contact": N_("Contact the customer"),
    "cmp_plan": N_("First resolution plan"),
    "cmp_agreement": N_("Agreement"),
    "cmp_closure": N_("Everything finished"),
}
LEVEL_LABELS = {"staff": N_("Staff"), "outlet_manager": N_("Outlet manager"), "region": N_("Region")}
COMPLAINT_TEXT = {
    "sla_warning": (
        N_("Complaint %(number)s: “%(clock)s” is due at %(due)s"),
        N_("Complaint on order %(number)s: “%(clock)s” is due at %(due)s. Owner: %(owner)s; level: %(level)s."),
    ),
    "sla_breach": (
        N_("Complaint %(number)s: “%(clock)s” is overdue (due %(due)s)"),
        N_("Complaint on order %(number)s: “%(clock)s” was due at %(due)s and is overdue. "
           "Owner: %(owner)s; level: %(level)s."),
    ),
}  # fmt: skip
NOBODY = N_("nobody has taken it yet")
SETTLEMENT_TEXT = (
    N_("Settle compensation ¥%(amount)s for order %(number)s"),
    N_("The platform paid ¥%(amount)s compensation first on order %(number)s (approved by %(approver)s, "
       "above the small-claim limit). Please settle it with the platform, then mark it settled."),
)  # fmt: skip


@functools.cache
def _catalog(directory: str | None, locale: str) -> NullTranslations:
    if directory is None:
        return NullTranslations()
    return Translations.load(directory, [locale], domain="messages")


def render(settings: NotifySettings, locale: str | None, message: str, labels: Mapping[str, str],
           values: Mapping[str, Any]) -> str:  # fmt: skip
    """`message` in the recipient's language, with `labels` (message ids) translated too;
    a recipient who chose none gets Chinese and English, as the order notices do."""
    if locale not in ("zh", "en"):
        zh, en = (render(settings, lang, message, labels, values) for lang in ("zh", "en"))
        return en if zh == en else f"{zh} / {en}"
    t = _catalog(settings.translations_dir, locale).gettext
    filled = {**values, **{k: t(v) for k, v in labels.items()}}
    try:
        return t(message) % filled
    except (KeyError, ValueError, TypeError):  # a translation with a broken placeholder must not stop the sweep
        log.warning("translation of %r into %s does not fit its placeholders; sent in English", message, locale)
        return message % {**values, **labels}


def local_time(settings: NotifySettings, at: datetime) -> str:
    at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return at.astimezone(settings.timezone).strftime("%Y-%m-%d %H:%M")


def _complaint_notices(
    session: Session,
    settings: NotifySettings,
    marked: list[tuple[str, int, str, datetime]],
    orders: Mapping[int, WorkOrder],
    staff: list[User],
) -> list[dict[str, Any]]:
    """A complaint clock's warning or breach goes to the complaint's owner (首问负责); once
    it has gone up, also to the outlet's manager (outlet_manager) and the regional managers
    (region: managers tied to no outlet). A complaint nobody has taken yet
    goes to the outlet's dispatchers and managers, who can take it. A breach also goes to
    the webhook."""
    complaints = {
        c.order_id: c for c in session.scalars(select(Complaint).where(Complaint.order_id.in_({m[1] for m in marked})))
    }
    owner_ids = {c.owner_id for c in complaints.values()}
    owners = {u.id: u for u in session.scalars(select(User).where(User.id.in_(owner_ids)))} if owner_ids else {}
    region = [u for u in staff if u.role == "manager" and u.outlet_id is None]
    rows: list[dict[str, Any]] = []
    for kind, order_id, clock, due in marked:
        if kind not in COMPLAINT_TEXT:
            continue
        order, complaint = orders[order_id], complaints.get(order_id)
        people: list[User] = []
        if complaint is None:
            people = [u for u in staff if covers_outlet(u.outlet_id, order.outlet_id)]
        else:
            owner = owners.get(complaint.owner_id)
            people = [owner] if owner is not None and owner.active else []
            if complaint.level in ("outlet_manager", "region"):
                outlet_managers = [u for u in staff if u.role == "manager" and u.outlet_id == order.outlet_id]
                people += outlet_managers or region  # an outlet without its own manager: the region's
            if complaint.level == "region":
                people += region
        owner_name = (
            (owners[complaint.owner_id].display_name or owners[complaint.owner_id].username)
            if complaint is not None and complaint.owner_id in owners
            else None
        )
        values = {"number": order.number, "due": local_time(settings, due), "owner": owner_name or ""}
        labels = {
            "clock": COMPLAINT_CLOCK_LABELS[clock],
            "level": LEVEL_LABELS[complaint.level if complaint else "staff"],
        }
        if owner_name is None:
            labels["owner"] = NOBODY
        subject, body = COMPLAINT_TEXT[kind]
        targets: dict[tuple[str, str], str | None] = {}
        for user in people:
            for channel, recipient in (("email", user.email), ("sms", user.phone)):
                if recipient:
                    targets.setdefault((channel, recipient), user.locale)
        if kind == "sla_breach":
            targets[("webhook", "webhook")] = None
        for (channel, recipient), locale in targets.items():
            if _channel_on(settings, channel):
                rows.append({
                    "channel": channel, "recipient": recipient, "kind": kind, "order_id": order_id,
                    "subject": render(settings, locale, subject, labels, values)[:200],
                    "body": render(settings, locale, body, labels, values),
                    "dedup_key": f"{kind}:{order_id}:{clock}:{channel}:{recipient}"[:200],
                })  # fmt: skip
    return rows


def settlement_notices(
    session: Session, settings: NotifySettings, order: WorkOrder, comp: Compensation
) -> list[dict[str, Any]]:
    """The outlet's dispatchers and managers (the regional managers for an order with no
    outlet) and the webhook hear that a paid-first compensation waits for settlement."""
    if order.outlet_id is not None:
        who = User.role.in_(["dispatcher", "manager"]) & (User.outlet_id == order.outlet_id)
    else:
        who = (User.role == "manager") & User.outlet_id.is_(None)
    people = list(session.scalars(select(User).where(User.active.is_(True), who).order_by(User.id)))
    approver = session.get(User, comp.approved_by_id) if comp.approved_by_id is not None else None
    values = {
        "number": order.number,
        "amount": f"{comp.amount:.2f}",
        "approver": (approver.display_name or approver.username) if approver is not None else "-",
    }
    targets: dict[tuple[str, str], str | None] = {}
    for user in people:
        for channel, recipient in (("email", user.email), ("sms", user.phone)):
            if recipient:
                targets.setdefault((channel, recipient), user.locale)
    targets[("webhook", "webhook")] = None
    subject, body = SETTLEMENT_TEXT
    return [
        {
            "channel": channel,
            "recipient": recipient,
            "kind": "compensation_settlement",
            "order_id": order.id,
            "subject": render(settings, locale, subject, {}, values)[:200],
            "body": render(settings, locale, body, {}, values),
            "dedup_key": f"settlement:{comp.id}:{channel}:{recipient}"[:200],
        }  # fmt: skip
        for (channel, recipient), locale in targets.items()
        if _channel_on(settings, channel)
    ]


# --- the customer's tracking link ----------------------------------------------------

TRACKING_LINK_TEXT = (
    N_("Your repair request %(number)s"),
    N_("We have your repair request %(number)s. Follow it, change the time or cancel here: %(url)s"),
)


def tracking_link_notices(settings: NotifySettings, order: WorkOrder, url: str) -> list[dict[str, Any]]:
    """The customer's link by SMS and WeChat to the order's phone, one row per configured
    channel (none without a gateway, none for a landline). Keyed by the link's digest: the
    same link is queued once, a re-issued link goes out again. The customer chose no
    language, so the text is Chinese and English."""
    if not order.contact_phone or not can_take_texts(order.contact_phone) or order.tracking_digest is None:
        return []
    values = {"number": order.number, "url": url}
    subject, body = TRACKING_LINK_TEXT
    return [
        {
            "channel": channel,
            "recipient": order.contact_phone,
            "kind": "tracking_link",
            "order_id": order.id,
            "subject": render(settings, None, subject, {}, values)[:200],
            "body": render(settings, None, body, {}, values),
            "dedup_key": f"tracking_link:{order.id}:{order.tracking_digest[:24]}:{channel}",
        }
        for channel in ("sms", "wechat")
        if _channel_on(settings, channel)
    ]


def _channel_on(settings: NotifySettings, channel: str) -> bool:
    return bool(
        {
            "sms": settings.sms_url,
            "wechat": settings.wechat_url,
            "webhook": settings.webhook_url,
            "email": settings.smtp_host,
        }[channel]  # fmt: skip
    )


def enqueue(session: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    """Add rows to the outbox in the caller's transaction; a repeat (same dedup_key) is a no-op."""
    if not rows:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(Notification).on_conflict_do_nothing(index_elements=["dedup_key"])
    session.execute(
        stmt, [{**r, "created_at": now, "next_attempt_at": now, "status": "pending", "attempts": 0} for r in rows]
    )


# --- delivery -----------------------------------------------------------------------


class Sender(Protocol):
    def send(self, notification: Notification) -> None:
        """Deliver or raise."""


@dataclass
class HttpJsonSender:
    """SMS and WeChat gateways and webhooks: one JSON POST, any 2xx is delivered."""

    url: str
    timeout_s: float = 5.0

    def send(self, notification: Notification) -> None:
        body = {
            "to": notification.recipient, "kind": notification.kind, "order_id": notification.order_id,
            "subject": notification.subject, "text": notification.body, "dedup_key": notification.dedup_key,
        }  # fmt: skip
        request = urllib.request.Request(
            self.url, data=json.dumps(body, ensure_ascii=False).encode(), method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": notification.dedup_key},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - configured URL
            if not 200 <= response.status < 300:
                raise RuntimeError(f"gateway answered {response.status}")


@dataclass
class SmtpSender:
    host: str
    port: int = 25
    mail_from: str = "dispatch@localhost"
    timeout_s: float = 5.0

    def send(self, notification: Notification) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = (
            self.mail_from,
            notification.recipient,
            notification.subject,
        )
        message["Message-ID"] = f"<{notification.dedup_key.replace(':', '.')}@dispatch>"
        message.set_content(notification.body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            smtp.send_message(message)


def senders_from(settings: NotifySettings) -> dict[str, Sender]:
    senders: dict[str, Sender] = {}
    for channel, url in (("sms", settings.sms_url), ("wechat", settings.wechat_url), ("webhook", settings.webhook_url)):
        if url:
            senders[channel] = HttpJsonSender(url, settings.timeout_s)
    if settings.smtp_host:
        senders["email"] = SmtpSender(settings.smtp_host, settings.smtp_port, settings.mail_from, settings.timeout_s)
    return senders


def deliver(session: Session, senders: Mapping[str, Sender], now: datetime, limit: int = 100) -> dict[str, int]:
    """Send what is due; retry failures with back-off (1, 2, 4 … 60 min); give up after
    MAX_ATTEMPTS. Commits. Rows are locked (SKIP LOCKED on PostgreSQL) while being sent."""
    query = (
        select(Notification)
        .where(Notification.status == "pending", Notification.next_attempt_at <= now)
        .order_by(Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    counts = {"sent": 0, "retry": 0, "failed": 0}
    with unit_of_work(session):
        for n in session.scalars(query):
            sender = senders.get(n.channel)
            try:
                if sender is None:
                    raise RuntimeError(f"no sender configured for {n.channel}")
                sender.send(n)
            except Exception as exc:  # noqa: BLE001 - any failure of a gateway is retried
                n.attempts += 1
                n.last_error = f"{type(exc).__name__}: {exc}"[:500]
                if n.attempts >= MAX_ATTEMPTS:
                    n.status = "failed"
                    counts["failed"] += 1
                    log.warning("notification %s failed for good: %s", n.id, n.last_error)
                else:
                    n.next_attempt_at = now + timedelta(minutes=min(60, 2 ** (n.attempts - 1)))
                    counts["retry"] += 1
                continue
            n.status, n.sent_at, n.attempts = "sent", now, n.attempts + 1
            counts["sent"] += 1
    return counts
