"""How often a caller may do a thing: at most ``count`` times in any ``per_seconds``."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class RateLimit:
    """A sliding window per caller, in this process (each API process counts its own callers).

    Callers are verified identities, so the table grows with the staff and integrations, not with
    requests; one not seen for a whole window is forgotten."""

    def __init__(
        self, count: int, *, per_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.count = count
        self.window = per_seconds
        self.clock = clock
        self.seen: dict[str, deque[float]] = {}

    def wait(self, caller: str) -> int:
        """0 when ``caller`` may go ahead (counted), else the whole seconds until they may."""
        now = self.clock()
        times = self.seen.setdefault(caller, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.count:
            return max(1, math.ceil(times[0] + self.window - now))
        times.append(now)
        if len(self.seen) > 10_000:
            self.seen = {k: v for k, v in self.seen.items() if v and v[-1] > now - self.window}
        return 0
