"""The language-model view's caching and concurrency (the page's shared, read-only model under load)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from explorer.views import language_model as views


def test_bounded_cache_computes_each_key_once_under_concurrency() -> None:
    calls: list[int] = []
    lock = threading.Lock()

    @views.bounded(2)
    def slow_square(x: int, on_step: object = None) -> int:
        with lock:
            calls.append(x)
        time.sleep(0.2)
        return x * x

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(slow_square, [3] * 8))
    assert results == [9] * 8 and calls == [3]  # eight sessions, one computation
    seen: list[int] = []
    assert slow_square(4, on_step=seen.append) == 16 and slow_square(4) == 16  # callbacks are not part of the key
    slow_square(5)
    slow_square(3)  # evicted (maxsize 2: 4 and 5 were newer) -> computed again
    assert calls == [3, 4, 5, 3]
    assert slow_square.cached(3) and not slow_square.cached(99)  # type: ignore[attr-defined]


def test_a_click_on_the_head_map_picks_that_head() -> None:
    from explorer.figures.lm import picked_head

    assert picked_head([{"x": 6, "y": 18, "z": 0.86}], 30, 9) == (18, 6)
    assert picked_head([{"x": 9, "y": 0}], 30, 9) is None and picked_head([], 30, 9) is None
    assert picked_head([{"x": "a", "y": 1}, {"x": 0, "y": 29}], 30, 9) == (29, 0)
