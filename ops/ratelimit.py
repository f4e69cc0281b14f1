"""A token bucket per caller: `burst` requests at once, then `rate` per second.

Kept in memory per process (each replica limits on its own: with N replicas a caller gets up
to N times the rate; the setting is per replica). The number of callers remembered is bounded;
the longest idle is forgotten first, which only ever gives it a full bucket again.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    rate: float  # tokens added per second
    burst: int  # bucket size
    max_callers: int = 10_000
    _buckets: OrderedDict[str, tuple[float, float]] = field(default_factory=OrderedDict)  # tokens, at

    def take(self, caller: str, now: float) -> float:
        """0 if the caller may go ahead (one token taken), else the seconds until it may."""
        tokens, at = self._buckets.pop(caller, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[caller] = (tokens - 1 if wait == 0 else tokens, now)
        while len(self._buckets) > self.max_callers:
            self._buckets.popitem(last=False)
        return wait
