"""Sharing profiler results between sessions: single-flight, bounded, expiring, never hiding a failure."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from explorer.profiling import build_request
from explorer.profiling.runner import MemoryTimeline, ProfileResult
from explorer.profiling.shared import RecentRuns, sharing_key


def fake_result(request, started_at: str = "12:00:00") -> ProfileResult:
    """A ProfileResult with only the fields sharing looks at filled in (no torch run needed)."""
    return ProfileResult(
        request=request, estimate=None, rows=[], events=None, step_us=[1.0], wall_profiled_s=[1.0], wall_plain_s=[1.0],  # type: ignore[arg-type]
        backward_flops=0, timeline=MemoryTimeline(t_ms=[], bytes=[], spans=[]), device_label="cpu", started_at=started_at,
    )


class Counter:
    """A run function that counts its calls and can be slow or fail."""

    def __init__(self, request, delay: float = 0.0, fail: bool = False) -> None:
        self.request, self.delay, self.fail, self.calls = request, delay, fail, 0
        self._lock = threading.Lock()

    def __call__(self) -> ProfileResult:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("profiler blew up")
        return fake_result(self.request)


def test_seed_is_left_out_of_the_key_but_nothing_else() -> None:
    base = build_request("vit", batch_size=2, seed=1)
    assert sharing_key(base) == sharing_key(dataclasses.replace(base, seed=99))
    assert sharing_key(base) != sharing_key(build_request("vit", batch_size=4, seed=1))
    assert sharing_key(base) != sharing_key(build_request("transformer", batch_size=2, seed=1))


def test_a_second_session_reuses_the_run_relabelled_with_its_own_request() -> None:
    runs = RecentRuns()
    alice, bob = build_request("vit", seed=1), build_request("vit", seed=2)
    first = runs.get_or_run(alice, Counter(alice))
    bob_run = Counter(bob)
    second = runs.get_or_run(bob, bob_run)
    assert not first.shared and second.shared and bob_run.calls == 0
    assert second.result.request == bob and first.result.request == alice
    assert any("Shared result" in note for note in second.result.notes)
    assert not first.result.notes, "relabelling must not change the stored result"
    assert second.result.rows is first.result.rows  # the heavy parts are shared, not copied


def test_fresh_always_measures_again() -> None:
    runs = RecentRuns()
    request = build_request("vit")
    runs.get_or_run(request, Counter(request))
    again = Counter(request)
    outcome = runs.get_or_run(request, again, fresh=True)
    assert again.calls == 1 and not outcome.shared


def test_concurrent_identical_requests_run_once() -> None:
    runs = RecentRuns()
    request = build_request("vit")
    run = Counter(request, delay=0.3)
    outcomes = []
    waits: list[str] = []

    def session(seed: int) -> None:
        outcomes.append(runs.get_or_run(dataclasses.replace(request, seed=seed), run, on_wait=waits.append))

    threads = [threading.Thread(target=session, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert run.calls == 1
    assert sorted(o.shared for o in outcomes) == [False] + [True] * 5
    assert waits, "waiting sessions were not told why they wait"


def test_a_failed_run_is_not_handed_to_waiters_and_propagates_to_its_owner() -> None:
    runs = RecentRuns()
    request = build_request("vit")
    failing = Counter(request, delay=0.3, fail=True)
    errors: list[Exception] = []

    def owner() -> None:
        try:
            runs.get_or_run(request, failing)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=owner)
    thread.start()
    time.sleep(0.1)  # the owner's run is in flight
    healthy = Counter(request)
    outcome = runs.get_or_run(request, healthy)
    thread.join(5)
    assert errors and healthy.calls == 1 and not outcome.shared


def test_results_expire_and_the_store_is_bounded() -> None:
    now = [0.0]
    runs = RecentRuns(max_entries=2, max_age_seconds=60.0, clock=lambda: now[0])
    request = build_request("vit")
    runs.get_or_run(request, Counter(request))
    now[0] = 61.0
    late = Counter(request)
    assert not runs.get_or_run(request, late).shared and late.calls == 1
    for batch in (2, 3, 4):
        other = build_request("vit", batch_size=batch)
        runs.get_or_run(other, Counter(other))
    assert len(runs) == 2


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError):
        RecentRuns(max_entries=0)
