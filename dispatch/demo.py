"""A believable demo city (Xi'an), the same for the same seed.

Everything goes through the real use cases (accounts, network, intake, transitions), so the
demo data obeys the same rules and leaves the same event trail as real work.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.accounts import Actor, User, create_user
from core.db import unit_of_work, utcnow
from core.security import hash_password
from dispatch.customer import record_callback
from dispatch.geocoding import Geocoder
from dispatch.intake import IntakeSettings, OrderRequest, submit_order
from dispatch.models import WorkOrder
from dispatch.moves import Position, transition
from dispatch.planning.day import PlanningSettings, load_day, tech_of
from dispatch.planning.routes import write_route
from dispatch.sla.policy import SlaPolicy
from routing.evaluate import evaluate
from technicians.models import Outlet, Skill
from technicians.network import add_leave, create_outlet, create_technician

DEMO_PASSWORD = "demo-pass-2026"

SKILLS = [
    ("water_heater", "Water heater", "热水器"),
    ("air_conditioner", "Air conditioner", "空调"),
    ("washing_machine", "Washing machine", "洗衣机"),
    ("refrigerator", "Refrigerator", "冰箱"),
    ("kitchen", "Kitchen appliances", "厨房电器"),
    ("tv", "Television", "电视"),
]
OUTLETS = [
    ("XA-YT", "雁塔服务网点", "雁塔区", "西安市雁塔区小寨东路 88 号", 34.2180, 108.9520),
    ("XA-WY", "未央服务网点", "未央区", "西安市未央区凤城八路 166 号", 34.3300, 108.9420),
    ("XA-GX", "高新服务网点", "高新区", "西安市高新区科技路 48 号", 34.2330, 108.8830),
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = [
    "伟",
    "芳",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "杰",
    "涛",
    "明",
    "超",
    "华",
    "平",
    "刚",
    "辉",
    "鹏",
    "斌",
    "宇",
    "浩",
    "峰",
]
STREETS = [
    "长安南路",
    "朱雀大街",
    "含光路",
    "太白南路",
    "科技路",
    "高新路",
    "唐延路",
    "锦业路",
    "凤城二路",
    "未央路",
    "太华北路",
    "文景路",
    "雁塔西路",
    "曲江池东路",
    "西影路",
    "电子正街",
    "丈八东路",
    "明光路",
]
COMPLAINTS = {
    "water_heater": ["不出热水", "漏水", "显示E1故障", "打不着火"],
    "air_conditioner": ["不制冷", "外机噪音大", "漏水", "遥控无反应"],
    "washing_machine": ["不排水", "脱水时震动大", "门打不开", "不进水"],
    "refrigerator": ["冷藏室不冷", "结霜严重", "压缩机不停机"],
    "kitchen": ["油烟机吸力小", "燃气灶点不着", "消毒柜不加热"],
    "tv": ["开机黑屏", "有声音没图像", "遥控失灵"],
}


MOBILE_PREFIXES = (
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "158",
    "159",
    "186",
    "187",
    "188",
    "189",
    "133",
    "153",
)


def _mobile(rnd: random.Random) -> str:
    return f"+86{rnd.choice(MOBILE_PREFIXES)}{rnd.randint(10_000_000, 99_999_999)}"


def database_is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(WorkOrder)) and not session.scalar(
        select(func.count()).select_from(User)
    )


@contextmanager
def _phase(session: Session) -> Iterator[Session]:
    """One transaction for a phase of the demo. The use cases inside run in a session joined to
    the caller's transaction, so their commits become savepoints: the demo keeps their rules and
    event trail, without a commit (an fsync on SQLite) per step. The demo's session carries no
    publisher: nobody watches the board while the demo is loaded, and nothing is announced
    before the phase commits."""
    with unit_of_work(session):
        connection = session.connection()  # the caller's transaction (BEGIN IMMEDIATE on SQLite)
        inner = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield inner
        finally:
            inner.close()


@dataclass(frozen=True)
class DemoTech:
    """A demo technician as plain data, with how they work: the chances that they call the
    customer late, finish after the 24 hours, have a visit returned, leave the customer unhappy."""

    id: int
    user_id: int
    outlet_id: int
    skills: frozenset[str]
    late_contact: float = 0.05
    slow: float = 0.06
    returns: float = 0.03
    unhappy: float = 0.08


# Most technicians work well; a few slip, each in their own way, so that the risk watch has
# something true to say about a few of them and nothing about the rest.
WEAKNESSES = [
    {"late_contact": 0.55},
    {"slow": 0.4},
    {"returns": 0.3},
    {"unhappy": 0.5},
    {"late_contact": 0.35, "slow": 0.25},
]


def seed_demo(
    session: Session,
    *,
    seed: int = 2026,
    timezone: ZoneInfo,
    orders: int = 300,
    technicians: int = 30,
    now: datetime | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> str:
    rnd = random.Random(seed)
    now = now or utcnow()
    with _phase(session) as demo:
        outlets, techs = _network(demo, rnd, technicians, now.astimezone(timezone).date())
    progress(
        f"demo data: {len(outlets)} outlets, {len(techs)} technicians with accounts tech01 … tech{technicians:02d}"
    )

    # The demo's history is generated without photos, so its orders ask for none.
    settings = IntakeSettings(policy=SlaPolicy(), timezone=timezone, geocoder=Geocoder("none"), proof_photos_default=0)
    skill_codes = [s[0] for s in SKILLS]
    with _phase(session) as demo:
        dispatcher = Actor(user_id=demo.scalar(select(User.id).where(User.username == "admin")), role="dispatcher")
        for n in range(orders):
            age = timedelta(days=30) * (1 - n / orders) ** 1.6  # more recent orders than old ones
            created = now - age - timedelta(minutes=rnd.randint(0, 90))
            outlet = rnd.choice(outlets)
            product = rnd.choice(skill_codes)
            lat, lon = outlet.lat + rnd.uniform(-0.07, 0.07), outlet.lon + rnd.uniform(-0.08, 0.08)
            req = OrderRequest(
                channel=rnd.choice(["hotline", "hotline", "web", "wechat", "app", "email"]),
                name=rnd.choice(SURNAMES) + rnd.choice(["先生", "女士"]),
                phone=_mobile(rnd),
                address=f"西安市{rnd.choice(STREETS)}{rnd.randint(1, 300)}号{rnd.randint(1, 30)}栋{rnd.randint(1, 28)}0{rnd.randint(1, 4)}室",
                product_category=product,
                issue_category=rnd.choices(["repair", "installation", "maintenance", "complaint"], [70, 15, 10, 5])[0],
                description=rnd.choice(COMPLAINTS[product]),
                priority=rnd.choices(["normal", "urgent", "vip"], [80, 15, 5])[0],
                lat=lat, lon=lon, in_warranty=rnd.random() < 0.5,
            )  # fmt: skip
            order, _ = submit_order(
                demo, req, Actor.public() if req.channel == "web" else dispatcher, settings, now=created
            )
            _walk(demo, rnd, order, techs, created, now, age)
            if (n + 1) % 50 == 0:
                progress(f"demo data: {n + 1}/{orders} orders")
    with _phase(session) as demo:
        _plan_today(demo, timezone, now)
    counts = dict(session.execute(select(WorkOrder.status, func.count()).group_by(WorkOrder.status)).all())
    session.rollback()  # end the read (on SQLite a transaction holds the write lock)
    return "demo data ready: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))


def _network(
    session: Session, rnd: random.Random, technicians: int, today: date
) -> tuple[list[Outlet], list[DemoTech]]:
    """Skills, the three accounts, outlets, technicians with their accounts, two on leave."""
    for code, en, zh in SKILLS:
        if session.get(Skill, code) is None:
            session.add(Skill(code=code, name_en=en, name_zh=zh, active=True))
    shared = hash_password(DEMO_PASSWORD)  # one hash for every demo account (scrypt: 0.3 s each)
    admin = create_user(session, "admin", DEMO_PASSWORD, "admin", display_name="系统管理员", password_hash=shared)
    admin_id = admin.id
    create_user(session, "dispatcher", DEMO_PASSWORD, "dispatcher", display_name="信息员 小陈", password_hash=shared)
    create_user(session, "manager", DEMO_PASSWORD, "manager", display_name="网点经理 老刘", password_hash=shared)

    outlets = [
        create_outlet(
            session, {"code": c, "name": n, "area": a, "address": addr, "lat": lat, "lon": lon}, actor_id=admin_id
        )
        for c, n, a, addr, lat, lon in OUTLETS
    ]
    skill_codes = [s[0] for s in SKILLS]
    techs = []
    for i in range(technicians):
        outlet = outlets[i % len(outlets)]
        user = create_user(session, f"tech{i + 1:02d}", DEMO_PASSWORD, "technician", password_hash=shared)
        name = rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(["", rnd.choice(GIVEN)])
        early = rnd.random() < 0.6
        skills = rnd.sample(skill_codes, rnd.randint(2, 3))
        days = "123456" if rnd.random() < 0.7 else "1234567"
        tech = create_technician(
            session,
            {
                "outlet_id": outlet.id, "user_id": user.id, "name": name,
                "phone": _mobile(rnd),
                "home_lat": outlet.lat + rnd.uniform(-0.06, 0.06), "home_lon": outlet.lon + rnd.uniform(-0.07, 0.07),
                "shift_start": time(8) if early else time(9), "shift_end": time(17) if early else time(18),
                "work_days": days, "daily_capacity": rnd.choice([6, 8, 8, 10]),
            },
            skills,
            actor_id=admin_id,
        )  # fmt: skip
        techs.append(DemoTech(tech.id, user.id, outlet.id, frozenset(skills)))
    for tech, weakness in zip(rnd.sample(techs, len(WEAKNESSES)), WEAKNESSES, strict=True):
        techs[techs.index(tech)] = replace(tech, **weakness)
    for tech in rnd.sample(techs, 2):
        add_leave(session, tech.id, today, today + timedelta(days=2), "年假", actor_id=admin_id)
    return outlets, techs


def _plan_today(session: Session, timezone: ZoneInfo, now: datetime) -> None:
    """Time each technician's open orders over the planning horizon in the order they hold them
    (started ones first, then by due time), as a plan would: the orders were walked through their
    moves without the planner, and without route stops the phone, the tracking page and the
    board's timeline would have no ETA to show. Loaded after the shifts (or on a day off), the
    orders go on the technician's next working day instead of nowhere."""
    with unit_of_work(session):
        day = load_day(session, PlanningSettings(timezone=timezone), now)
        timed = evaluate(day.technicians, day.jobs, day.routes)
        for tech_id in dict.fromkeys(tech_of(v) for v in day.routes):
            vehicles = day.vehicles_of(tech_id)
            if any(day.routes[v] for v in vehicles):
                write_route(session, day, tech_id, day.routes[vehicles[0]], timed, vehicles[0])


def _walk(
    session: Session,
    rnd: random.Random,
    order: WorkOrder,
    techs: list[DemoTech],
    created: datetime,
    now: datetime,
    age: timedelta,
) -> None:
    """Move an order along its life as far as its age makes believable, at the pace of the
    technician who takes it: most call within the 30-minute contact promise and finish within
    24 hours; the few with a weakness slip where it lies."""
    hours = age.total_seconds() / 3600
    if hours < 0.5 or rnd.random() < 0.03:
        if rnd.random() < 0.5 and hours > 2:
            _step(
                session, order, "cancel", Actor(None, "dispatcher"), created + timedelta(minutes=20), reason="客户取消"
            )
        return
    candidates = [t for t in techs if order.required_skill in t.skills and t.outlet_id == order.outlet_id]
    candidates = candidates or [t for t in techs if order.required_skill in t.skills]
    tech = rnd.choice(candidates)
    me = Actor(user_id=tech.user_id, role="technician", technician_id=tech.id)
    # How far along: recent orders are still moving, old ones are finished.
    stages = ["assign", "accept", "contact", "depart", "arrive", "complete", "close"]
    if hours < 3:
        # The newest orders show every stage of a live day, whatever the clock says.
        last = ["assign", "accept", "contact", "depart", "arrive"][int(hours * 60) % 5]
    elif hours < 24:
        last = rnd.choice(stages[1:6])
    elif hours < 72:
        last = rnd.choice(["complete", "complete", "close"])
    else:
        last = "close"
    late, slow = rnd.random() < tech.late_contact, rnd.random() < tech.slow
    # When each step happens, counted from the step before (the contact from intake).
    pace = {
        "assign": timedelta(minutes=rnd.randint(2, 8)),
        "accept": timedelta(minutes=rnd.randint(1, 6)),
        "contact": timedelta(minutes=rnd.randint(35, 150) if late else rnd.randint(12, 27)),
        "depart": timedelta(hours=rnd.uniform(22, 40)) if slow else timedelta(minutes=rnd.randint(20, 240)),
        "arrive": timedelta(minutes=rnd.randint(15, 50)),
        "complete": timedelta(minutes=rnd.randint(30, 120)),
    }
    t = created
    for action in stages:
        if action == "close":
            # Closed after the customer's callback, three to six days on, as the practice does.
            t = min(max(t, created + timedelta(days=rnd.uniform(3, 6))), now)
            if rnd.random() < tech.returns:
                _step(session, order, "return", Actor(None, "dispatcher"), t, reason="回访：故障未排除，需二次上门")
                if hours < 120:  # the second visit is still to come
                    return
                for again in ("depart", "arrive", "complete"):
                    t = min(t + timedelta(minutes=rnd.randint(30, 240)), now)
                    _step(session, order, again, me, t, position=(order.lat, order.lon))
            satisfied = rnd.random() >= tech.unhappy
            record_callback(
                session, order.id, Actor(None, "manager"), version=order.version, reached=True, resolved=True,
                score=rnd.choice([4, 5, 5]) if satisfied else rnd.choice([2, 3]), now=t,
            )  # fmt: skip
            return
        t = created + pace["contact"] if action == "contact" else t + pace[action]
        t = min(t, now)
        actor = Actor(None, "dispatcher") if action == "assign" else me
        _step(
            session, order, action, actor, t, technician_id=tech.id,
            position=(order.lat + rnd.uniform(-0.0004, 0.0004), order.lon + rnd.uniform(-0.0004, 0.0004)) if action == "arrive" else None,
        )  # fmt: skip
        if action == last:
            return


def _step(session, order, action, actor, at, *, reason=None, technician_id=None, position=None):
    transition(
        session, order.id, action, actor, version=order.version, reason=reason,
        technician_id=technician_id if action == "assign" else None,
        position=Position(*position, 12.0) if position else None, now=at,
    )  # fmt: skip
