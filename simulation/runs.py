"""Lab runs started from the manager's page, each in a background thread of the web process,
with their progress and report kept in memory (a run is minutes of CPU: one at a time per
process, and its result lives as long as the process; the command line is for long studies).

The thread has a context of its own, so the simulated clock (`core.clock.use`) it sets never
reaches the requests served beside it.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.db import utcnow
from core.errors import Conflict, NotFound
from simulation.lab import LabRequest, run_lab

log = logging.getLogger(__name__)
KEEP = 20  # finished runs remembered per process


@dataclass
class Run:
    id: int
    request: LabRequest
    started_by: int | None
    started_at: datetime
    status: str = "running"  # running, done, failed
    progress: float = 0.0
    step: dict[str, Any] = field(default_factory=dict)  # {"policy": name or "hindsight", "seed": n}
    finished_at: datetime | None = None
    report: dict[str, Any] | None = None
    error: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        r = self.request
        return {
            "id": self.id, "status": self.status, "progress": round(self.progress, 4), "step": self.step,
            "started_at": self.started_at, "finished_at": self.finished_at, "days": r.days, "seeds": r.seeds,
            "policies": [p.name for p in r.policies], "report": self.report,
        }  # fmt: skip


class Stopped(Exception):
    """The process is stopping: the run ends where it is."""


class LabRuns:
    def __init__(self) -> None:
        self._runs: dict[int, Run] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self, request: LabRequest, started_by: int | None) -> Run:
        """Start a run in the background; Conflict while another is running."""
        with self._lock:
            if any(r.status == "running" for r in self._runs.values()):
                raise Conflict("a simulation is running already; wait for it to finish")
            run = Run(next(self._ids), request, started_by, utcnow())
            self._runs[run.id] = run
            for old in sorted(self._runs)[:-KEEP]:
                del self._runs[old]
        run.thread = threading.Thread(target=self._work, args=(run,), name=f"lab-run-{run.id}", daemon=True)
        run.thread.start()
        return run

    def _work(self, run: Run) -> None:
        def progress(share: float, step: dict[str, Any]) -> None:
            if self._stopping.is_set():
                raise Stopped
            run.progress, run.step = share, step

        try:
            report = run_lab(run.request, progress).as_dict()
        except Stopped:
            run.status, run.error, run.finished_at = "failed", "stopped", utcnow()
            return
        except Exception as exc:  # noqa: BLE001 - a failed run is reported on its page, not lost
            log.exception("lab run %s failed", run.id)
            run.status, run.error, run.finished_at = "failed", type(exc).__name__, utcnow()
            return
        run.report, run.progress, run.finished_at, run.status = report, 1.0, utcnow(), "done"

    def get(self, run_id: int) -> Run:
        run = self._runs.get(run_id)
        if run is None:
            raise NotFound(f"simulation run {run_id} not found")
        return run

    def recent(self) -> list[Run]:
        return sorted(self._runs.values(), key=lambda r: r.id, reverse=True)

    def stop(self, timeout: float = 30) -> None:
        """End every run at its next progress step (a process shutting down, a test's app)."""
        self._stopping.set()
        for run in list(self._runs.values()):
            if run.thread is not None:
                run.thread.join(timeout)

    def wait(self, run_id: int, timeout: float | None = None) -> Run:
        """Block until the run ends (tests, and the command line's use of a registry)."""
        run = self.get(run_id)
        if run.thread is not None:
            run.thread.join(timeout)
        return run
