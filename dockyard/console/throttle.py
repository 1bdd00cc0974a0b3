"""Sign-in throttling: failed sign-ins are limited per client address and per access key id.

Each address and each key id has a token bucket: a failure takes a token, tokens come back at
a steady rate, and a sign-in is refused (429) while either of its buckets is empty, before the
key is even looked at, so guessing a secret goes no faster than the rate. The buckets live in a
small LRU (the least recently touched go first), so memory stays bounded whatever the number
of addresses or ids tried; a full bucket carries nothing and is dropped. A lock-out is logged
once, when a bucket runs dry.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from dataclasses import dataclass

log = logging.getLogger(__name__)

BURST = 5  # failures in a row before the first refusal
REFILL_SECONDS = 12.0  # one more try every this many seconds (5 a minute)
MAX_BUCKETS = 10_000


@dataclass(slots=True)
class Bucket:
    tokens: float
    at: float


class Throttle:
    def __init__(
        self, *, burst: int = BURST, refill_seconds: float = REFILL_SECONDS, max_buckets: int = MAX_BUCKETS
    ) -> None:
        self.burst = burst
        self.refill_seconds = refill_seconds
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[tuple[str, str], Bucket] = OrderedDict()

    def _level(self, name: tuple[str, str], now: float) -> float:
        bucket = self._buckets.get(name)
        if bucket is None:
            return float(self.burst)
        return min(float(self.burst), bucket.tokens + (now - bucket.at) / self.refill_seconds)

    def wait_seconds(self, names: list[tuple[str, str]], now: float) -> int:
        """0 if a sign-in under all of ``names`` may be tried now, else the seconds until it may."""
        short = max((1.0 - self._level(name, now) for name in names), default=0.0)
        return 0 if short <= 0 else max(1, math.ceil(short * self.refill_seconds))

    def failed(self, names: list[tuple[str, str]], now: float) -> None:
        """A failed sign-in: one token less in each bucket (the lock-out logged as it starts)."""
        for name in names:
            tokens = self._level(name, now) - 1.0
            self._buckets[name] = Bucket(tokens, now)
            self._buckets.move_to_end(name)
            if tokens < 1.0:
                log.warning("console: too many failed sign-ins for %s %s; throttled", *name)
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)
