"""How much memory opening pictures may take: per picture, and in one process at once.

A compressed picture says its size in its header, and what decoding it costs follows from
that header alone: width × height × the bytes Pillow keeps per pixel of its mode, plus
whatever conversion the pipeline needs before it can shrink it. The cost is known before a
single pixel is decoded, so a picture too costly is refused unread, and the pictures being
decoded at the same moment in one process share one budget: a request whose picture does not
fit waits for the others to finish, and is turned away (to retry) if they take too long.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from core.errors import Busy

MiB = 1 << 20


def pixel_bytes(mode: str) -> int:
    """Bytes Pillow keeps in memory per pixel of `mode`: one for the 8-bit single-band modes
    (a 1-bit image too is stored a byte a pixel), two for the 16-bit ones, four for the rest
    (RGB is stored in four bytes, like RGBA)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


class DecodeBudget:
    """Bytes of decoded pictures one process may hold at once, shared by its threads."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0
        self._changed = threading.Condition()

    @contextmanager
    def reserve(self, nbytes: int, *, wait_s: float) -> Iterator[None]:
        """Hold `nbytes` of the budget for the block, waiting up to `wait_s` seconds for other
        decodes to give it back; raise Busy when they do not. A reservation larger than the
        whole budget is a caller's error (callers refuse such pictures first)."""
        if nbytes > self.capacity:
            raise ValueError(f"{nbytes} bytes can never fit a budget of {self.capacity}")
        deadline = time.monotonic() + wait_s
        with self._changed:
            while self.in_use + nbytes > self.capacity:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Busy("the server is busy opening other photos; try again in a few seconds")
                self._changed.wait(left)
            self.in_use += nbytes
        try:
            yield
        finally:
            with self._changed:
                self.in_use -= nbytes
                self._changed.notify_all()
