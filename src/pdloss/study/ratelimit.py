"""A per-client token-bucket rate limiter for the study app (no web framework needed)."""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """Token bucket per key: ``rate`` requests per second, bursts up to ``burst``; thread-safe.

    ``rate <= 0`` allows everything. At most ``max_keys`` buckets are kept (the least recently
    seen half is forgotten beyond that), so a flood of addresses cannot exhaust memory.
    """

    def __init__(self, rate: float, burst: float | None = None, max_keys: int = 10_000) -> None:
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, 2 * rate))
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        """Take one token from ``key``'s bucket; False when it is empty. ``now``: monotonic seconds."""
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._buckets) > self.max_keys:
                # Forget the least recently seen half: memory stays bounded under address floods.
                keep = sorted(self._buckets.items(), key=lambda kv: kv[1][1])[self.max_keys // 2 :]
                self._buckets = dict(keep)
            return allowed
