"""One memory budget for a whole server process: work on big images waits its turn instead of piling up.

Every handler that holds a photo's pixels reserves what they cost first (``reserve``); the budget admits
reservations in arrival order (first come, first served: a big photo is never starved by a stream of small ones)
while their sum stays within the capacity. A reservation larger than the whole budget runs alone.

``limit_malloc_arenas`` keeps what the budget frees from staying in the process: glibc gives each new thread its own
malloc arena (up to 8 a core), and the image memory freed in one (a 100 MP photo's strips) is kept there for that
thread, so a server whose render threads come and go grew past its budget (load bench --hostile: 2224 MB peak RSS
with glibc's default, 1326 MB with 2).
"""
from __future__ import annotations

import ctypes
import os
import threading
from collections import deque
from contextlib import contextmanager
from typing import Iterator

from ..images import open_image

BYTES_PER_PIXEL = 4  # RGBA, 8 bits a channel: what Pillow holds per decoded pixel
JPEG_DRAFT_SCALE = 8  # a JPEG decodes at up to 1/8 of its size a side when a smaller one is asked for


M_ARENA_MAX = -8  # glibc's mallopt parameter for the number of malloc arenas


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """At most ``arenas`` glibc malloc arenas for this process, from now on (call it before the server starts its
    threads). True when set; False where the C library has no ``mallopt`` (musl, macOS) and nothing changed."""
    try:
        return bool(ctypes.CDLL(None).mallopt(M_ARENA_MAX, int(arenas)))
    except (OSError, AttributeError):
        return False


class BudgetTimeout(RuntimeError):
    """Waited too long for memory: the server is busy with other visitors' big photos."""


class MemoryBudget:
    """A weighted semaphore in bytes, fair: reservations are admitted in the order they were asked for."""

    def __init__(self, capacity: int, timeout: float = 300.0):
        if capacity <= 0:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.timeout = timeout  # seconds a reservation may wait before BudgetTimeout
        self.used = 0
        self._condition = threading.Condition()
        self._queue: deque[object] = deque()  # waiting reservations, oldest first

    @contextmanager
    def reserve(self, amount: int) -> Iterator[None]:
        """Hold ``amount`` bytes of the budget for the duration of the block (waiting for them if needed)."""
        amount = max(0, min(int(amount), self.capacity))
        me = object()
        with self._condition:
            self._queue.append(me)
            admitted = self._condition.wait_for(lambda: self._queue[0] is me and self.used + amount <= self.capacity, self.timeout)
            self._queue.remove(me)
            if admitted:
                self.used += amount
            self._condition.notify_all()
        if not admitted:
            raise BudgetTimeout("the server is busy with other large photos; try again in a minute")
        try:
            yield
        finally:
            with self._condition:
                self.used -= amount
                self._condition.notify_all()


def decode_cost(path: str | os.PathLike, longest_side: int | None = None, copies: float = 2.0) -> int:
    """Bytes a photo costs while it is decoded and worked on: its pixels (at the JPEG draft scale when only
    ``longest_side`` pixels are needed) × 4 bytes × ``copies`` (the decoded image plus what is made from it).
    Unreadable files cost nothing here: reading them fails at once."""
    try:
        with open_image(path) as image:
            width, height = image.size
            jpeg = image.format in ("JPEG", "MPO")
    except (OSError, ValueError):
        return 0
    if longest_side and jpeg:
        scale = min(JPEG_DRAFT_SCALE, max(1, max(width, height) // longest_side))
        width, height = -(-width // scale), -(-height // scale)
    return int(width * height * BYTES_PER_PIXEL * copies)
