"""Share a fresh profiler result between sessions that ask for the same configuration.

In a classroom, thirty students open the profiler page at the same moment with the same default
configuration. ``torch.profiler`` allows one run per process, so without sharing the thirtieth
student waits behind twenty-nine identical measurements. :class:`RecentRuns` makes those
auto-runs single-flight: the first request of a configuration runs, concurrent identical ones
wait for it and reuse its result, and later ones reuse it while it is younger than ``max_age``.
An explicit "Run profiler" asks for ``fresh=True`` and always measures anew (and refreshes the
shared entry).

The sharing key leaves the seed out on purpose: the seed only picks the values of untrained
weights and of the random input ids, and neither changes the shapes, the operators, the FLOPs,
the memory or (measurably) the time. The reused result is re-labelled with the caller's own
request and carries a note saying when and that it was shared, so nobody mistakes it for a new
measurement.

Results are treated as read-only once stored: callers get a shallow copy with their own
``request`` and ``notes``; the big parts (events, rows, traces) are shared and never mutated.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from explorer.profiling.request import ProfileRequest
from explorer.profiling.runner import ProfileResult

DEFAULT_MAX_ENTRIES = 8
DEFAULT_MAX_AGE_SECONDS = 300.0


def sharing_key(request: ProfileRequest) -> str:
    """The request's fingerprint without its seed (see the module docstring for why)."""
    return dataclasses.replace(request, seed=0).fingerprint()


@dataclass
class _Flight:
    """One run in progress that others may wait for."""

    done: threading.Event = field(default_factory=threading.Event)
    result: ProfileResult | None = None


@dataclass
class Outcome:
    """What a caller got: the result, and whether it was measured for someone else."""

    result: ProfileResult
    shared: bool
    age_seconds: float = 0.0


class RecentRuns:
    """A bounded, thread-safe, single-flight store of recent profiler results (see module docstring)."""

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._results: OrderedDict[str, tuple[float, ProfileResult]] = OrderedDict()
        self._flights: dict[str, _Flight] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._results)

    def clear(self) -> None:
        with self._lock:
            self._results.clear()

    def get_or_run(
        self,
        request: ProfileRequest,
        run: Callable[[], ProfileResult],
        *,
        fresh: bool = False,
        on_wait: Callable[[str], None] | None = None,
        wait_timeout: float = 600.0,
    ) -> Outcome:
        """A result for ``request``: reused when a recent or running identical one exists, else ``run()``.

        ``fresh=True`` never reuses (an explicit "measure now"). If the run we waited for fails, we run
        ourselves, so one session's failure is never handed to another. Errors of our own run propagate.
        """
        key = sharing_key(request)
        while True:
            with self._lock:  # look and claim in one step, so a burst of identical requests starts one run
                reused = None if fresh else self._recent(key)
                if reused is not None:
                    return self._relabel(request, *reused)
                flight = self._flights.get(key)
                if flight is None or fresh:
                    mine = _Flight()
                    self._flights[key] = mine
                    break
            if on_wait is not None:
                on_wait("an identical configuration is being profiled for another session; reusing its result")
            if not flight.done.wait(wait_timeout) or flight.result is None:
                fresh = True  # it failed or took too long: measure ourselves
        return self._run_and_store(key, mine, run)

    def available(self, request: ProfileRequest) -> bool:
        """True when a result for ``request`` can be had without a new run: a recent one, or one being measured."""
        key = sharing_key(request)
        with self._lock:
            return key in self._flights or self._recent(key) is not None

    def in_flight(self) -> int:
        """How many runs are being measured now (any configuration), including their set-up before the lock."""
        with self._lock:
            return len(self._flights)

    def _run_and_store(self, key: str, flight: _Flight, run: Callable[[], ProfileResult]) -> Outcome:
        try:
            result = run()
            flight.result = result
            with self._lock:
                self._results[key] = (self._clock(), result)
                self._results.move_to_end(key)
                while len(self._results) > self.max_entries:
                    self._results.popitem(last=False)
        finally:  # success or failure, waiters wake up (on failure they find no result and run themselves)
            with self._lock:
                if self._flights.get(key) is flight:
                    del self._flights[key]
            flight.done.set()
        return Outcome(result=result, shared=False)

    def _recent(self, key: str) -> tuple[float, ProfileResult] | None:
        """(age in seconds, result) if a young enough result is stored; drops an expired one. Lock held."""
        entry = self._results.get(key)
        if entry is None:
            return None
        age = self._clock() - entry[0]
        if age > self.max_age_seconds:
            del self._results[key]
            return None
        self._results.move_to_end(key)
        return age, entry[1]

    @staticmethod
    def _relabel(request: ProfileRequest, age: float, result: ProfileResult) -> Outcome:
        note = (
            f"Shared result: this configuration was measured {age:.0f} s ago (at {result.started_at}) for another "
            "view or session, and is reused instead of queueing for the profiler again. The seed changes only weight "
            "values and input ids, not the cost. Press Run profiler to measure again."
        )
        copy = dataclasses.replace(result, request=request, notes=[*result.notes, note])
        return Outcome(result=copy, shared=True, age_seconds=age)


RECENT_RUNS = RecentRuns()
"""The process-wide store the app uses (Streamlit serves every session from this one process)."""
