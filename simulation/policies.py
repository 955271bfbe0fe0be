"""Dispatch policies the lab compares, by name on the command line or in a JSON file.

- `baseline`: today's practice. No instant placement; a dispatcher looks every `look_minutes`
  and gives each new order to the nearest technician on duty with the skill and room left
  (`dispatch.planning.assign`, the dispatcher's own use case).
- `instant`: instant placement at intake (`dispatch.planning.place_new_order` via intake);
  what it cannot place (say, at night) the dispatcher's look places the same way later.
- `reoptimise`: instant, and every `every_minutes` the whole network re-planned and the plan
  applied (`dispatch.planning.propose` + `apply_proposal`).
- `auto`: instant, and every outlet opted in to automatic dispatch
  (`dispatch.jobs.auto_dispatch`, as the scheduler runs it) every `every_minutes`.

A name may carry its interval: `reoptimise15`, `auto30`, `baseline60`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from dispatch.planning.day import DEFAULT_STALL_STEPS

KINDS = ("baseline", "instant", "reoptimise", "auto")


@dataclass(frozen=True)
class Policy:
    name: str
    kind: str
    look_minutes: int = 30
    every_minutes: int = 15
    time_limit_s: float = 0.5
    stall_steps: int = DEFAULT_STALL_STEPS  # a re-plan's search ends early with nothing better (REOPTIMIZE_STALL_STEPS)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown policy '{self.kind}': one of {', '.join(KINDS)}")
        if not 1 <= self.look_minutes <= 24 * 60 or not 1 <= self.every_minutes <= 24 * 60:
            raise ValueError("a policy's interval is between 1 minute and 24 hours")
        if self.stall_steps < 0:
            raise ValueError("a policy's stall_steps is 0 (search to the limit) or more")

    @property
    def instant(self) -> bool:
        return self.kind != "baseline"


def parse(text: str, time_limit_s: float = 0.5, stall_steps: int = DEFAULT_STALL_STEPS) -> list[Policy]:
    """`baseline,instant,reoptimise15` → policies; or a JSON file's path (a list of objects)."""
    path = Path(text)
    if text.endswith(".json") and path.is_file():
        return [Policy(**p) for p in json.loads(path.read_text(encoding="utf-8"))]
    policies = []
    for name in (n.strip() for n in text.split(",")):
        if not name:
            continue
        m = re.fullmatch(r"([a-z]+?)(\d+)?", name)
        if not m or m.group(1) not in KINDS:
            raise ValueError(f"unknown policy '{name}': one of {', '.join(KINDS)} (optionally with minutes)")
        kind, minutes = m.group(1), m.group(2)
        extra = {}
        if minutes:
            extra["look_minutes" if kind in ("baseline", "instant") else "every_minutes"] = int(minutes)
        policies.append(Policy(name=name, kind=kind, time_limit_s=time_limit_s, stall_steps=stall_steps, **extra))
    if not policies:
        raise ValueError("name at least one policy")
    if len({p.name for p in policies}) != len(policies):
        raise ValueError("each policy once")
    return policies
