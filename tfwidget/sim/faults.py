"""Fault injection for the simulated gateway's streaming responses."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

__all__ = ["Faults"]

_STATUS_MESSAGES = {
    412: "The live stream for this turn is gone or expired; get the turn and list its events instead.",
    500: "Internal server error (injected by the simulator).",
    502: "Bad gateway (injected by the simulator).",
    503: "Service unavailable (injected by the simulator).",
    504: "Gateway timeout while waiting for turn events; subscribe again to resume.",
}


@dataclass
class Faults:
    """What to break in streaming responses. Every field is off by default.

    Faults apply to ``subscribe`` responses, and also to ``create turn`` streams when
    ``apply_to_create`` is true. Assigning a new ``Faults`` to ``Simulator.faults`` takes effect
    for the next request and restarts all counters and the random generator (seeded with
    ``seed``, so a run is reproducible).

    Attributes:
        seed: seed of the random generator used by ``drop_probability``.
        drop_after_events: abort the connection (no final chunk) after this many events of a
            response.
        drop_probability: abort the connection before each event with this probability.
        max_drops: stop dropping after this many dropped responses (``None``: no limit).
        stall_seconds: send nothing for this long ...
        stall_after_events: ... once this many events of a response were sent (0: right after
            the response headers).
        max_stalls: stop stalling after this many stalled responses (``None``: no limit).
        fail_status: answer the next ``fail_count`` subscribe requests with this status
            (412, 500, 502, 503 or 504) and an error body.
        fail_count: how many subscribe requests get ``fail_status``.
        retry_after: ``Retry-After`` header (seconds) on those failures, if set.
        malformed_every: after every N real events, send one malformed frame (alternating bad
            JSON without an id and a non-integer id). Malformed frames take no sequence number.
        retry_ms: send a ``retry: <ms>`` line at the start of each stream.
        comment_every: send a ``:`` comment line after every N events.
        apply_to_create: also apply the stream faults to ``create turn`` responses.
    """

    seed: int = 0
    drop_after_events: int | None = None
    drop_probability: float = 0.0
    max_drops: int | None = None
    stall_seconds: float = 0.0
    stall_after_events: int = 0
    max_stalls: int | None = None
    fail_status: int | None = None
    fail_count: int = 0
    retry_after: float | None = None
    malformed_every: int | None = None
    retry_ms: int | None = None
    comment_every: int | None = None
    apply_to_create: bool = False

    def __post_init__(self) -> None:
        if self.fail_status is not None and self.fail_status not in _STATUS_MESSAGES:
            raise ValueError(f"fail_status must be one of {sorted(_STATUS_MESSAGES)}")
        if not 0.0 <= self.drop_probability <= 1.0:
            raise ValueError("drop_probability must be between 0 and 1")
        for name in ("drop_after_events", "malformed_every", "comment_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1")


class FaultState:
    """The running counters of one :class:`Faults` configuration (thread-safe)."""

    def __init__(self, faults: Faults | None) -> None:
        self.faults = faults or Faults()
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        self._fails_left = self.faults.fail_count if self.faults.fail_status else 0
        self.drops = 0
        self.stalls = 0
        self.failures = 0
        self.malformed = 0

    @property
    def active(self) -> bool:
        f = self.faults
        return bool(
            f.drop_after_events
            or f.drop_probability
            or f.stall_seconds
            or f.malformed_every
            or f.retry_ms is not None
            or f.comment_every
        )

    def take_failure(self) -> tuple[int, str, float | None] | None:
        """Consume one injected failure, if any is left: (status, message, retry_after)."""
        with self._lock:
            if self._fails_left <= 0 or self.faults.fail_status is None:
                return None
            self._fails_left -= 1
            self.failures += 1
            status = self.faults.fail_status
        return status, _STATUS_MESSAGES[status], self.faults.retry_after

    def should_drop(self, events_sent: int) -> bool:
        """Whether to abort the response before sending its next event."""
        f = self.faults
        with self._lock:
            if f.max_drops is not None and self.drops >= f.max_drops:
                return False
            drop = f.drop_after_events is not None and events_sent >= f.drop_after_events
            if not drop and f.drop_probability:
                drop = self._rng.random() < f.drop_probability
            if drop:
                self.drops += 1
            return drop

    def should_stall(self, events_sent: int) -> float:
        """Seconds to stall before the next event (0 for none); call once per event."""
        f = self.faults
        if f.stall_seconds <= 0 or events_sent != f.stall_after_events:
            return 0.0
        with self._lock:
            if f.max_stalls is not None and self.stalls >= f.max_stalls:
                return 0.0
            self.stalls += 1
        return f.stall_seconds

    def malformed_frame(self, events_sent: int) -> bytes | None:
        """A malformed frame to send after ``events_sent`` events, if one is due."""
        every = self.faults.malformed_every
        if not every or events_sent % every:
            return None
        with self._lock:
            self.malformed += 1
            n = self.malformed
        if n % 2:
            return b'data: {"type": "model.message.delta", "id": "01BROKEN\n\n'
        return (
            b'id: not-a-number\ndata: {"type": "sim.malformed", "id": "malformed-'
            + str(n).encode()
            + b'"}\n\n'
        )
