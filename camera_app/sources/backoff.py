"""Reconnect delays: exponential, capped, with jitter so many cameras do not retry in step."""

from __future__ import annotations

import random
from dataclasses import dataclass

from camera_app.errors import ConfigError

__all__ = ["Backoff", "BackoffPolicy"]


@dataclass(frozen=True)
class BackoffPolicy:
    """Delay n (from 0) is ``min(max_s, initial_s * multiplier**n)`` scaled by a random factor
    in ``[1 - jitter, 1 + jitter]``, never above ``max_s`` nor below ``initial_s / 10``.
    The delays start again from ``initial_s`` after a session that streamed ``stable_s`` or
    longer; a camera that drops sooner (a flap: a frame or two, then gone) keeps backing off,
    instead of reconnecting every ``initial_s`` all night."""

    initial_s: float = 0.5
    max_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2
    stable_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ConfigError(
                f"backoff: expected 0 < initial_s <= max_s, got {self.initial_s} and {self.max_s}"
            )
        if not self.multiplier >= 1:
            raise ConfigError(f"backoff: expected multiplier >= 1, got {self.multiplier}")
        if not 0 <= self.jitter <= 1:
            raise ConfigError(f"backoff: expected 0 <= jitter <= 1, got {self.jitter}")
        if not self.stable_s >= 0:
            raise ConfigError(f"backoff: expected stable_s >= 0, got {self.stable_s}")


class Backoff:
    """The delays of one camera's reconnects; ``streamed()`` after a session that streamed."""

    def __init__(self, policy: BackoffPolicy, rng: random.Random | None = None) -> None:
        self.policy = policy
        self._rng = rng or random.Random()
        self.attempts = 0
        self._base_s = policy.initial_s

    def next_delay_s(self) -> float:
        p = self.policy
        base = self._base_s
        # Step by step rather than multiplier**attempts: months of outage never overflow.
        self._base_s = min(p.max_s, base * p.multiplier)
        self.attempts += 1
        factor = self._rng.uniform(1.0 - p.jitter, 1.0 + p.jitter)
        return max(p.initial_s / 10, min(p.max_s, base * factor))

    def streamed(self, for_s: float) -> None:
        """A session streamed ``for_s`` seconds before it failed: long enough (``stable_s``),
        and the next failure is a new outage, whose delays start from ``initial_s``."""
        if for_s >= self.policy.stable_s:
            self.reset()

    def reset(self) -> None:
        self.attempts = 0
        self._base_s = self.policy.initial_s
