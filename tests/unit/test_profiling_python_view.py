"""Python view: pyinstrument's tree of one request, collapsed for an icicle, with the torch vs Python split."""

from __future__ import annotations

import time

import pytest

from explorer.profiling.phases import tiny_generator
from explorer.profiling.python_view import GROUPS, PROFILER_GUIDE, generation_request, python_profile
from explorer.profiling.tiny_lm import TinyLMConfig, build_tiny_lm


class CharTokenizer:
    """Bytes mod the tiny vocabulary: enough to run a real tokenize -> generate -> detokenize request."""

    def encode(self, text: str) -> list[int]:
        return [b % 64 for b in text.encode()]

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(97 + i % 26) for i in ids)


@pytest.fixture(scope="module")
def profile():
    model = build_tiny_lm(TinyLMConfig(max_len=256))
    gen = tiny_generator(model)
    request = generation_request(model, CharTokenizer(), "The capital of France is " * 4, 24, gen)
    request()  # warm: first calls pay for lazy initialisation
    return python_profile(request)


def test_root_time_is_within_20_percent_of_the_wall_time(profile):
    assert profile.root_s > 0
    assert abs(profile.root_s - profile.wall_s) <= 0.2 * profile.wall_s


def test_the_tree_is_consistent_for_an_icicle(profile):
    data = profile.icicle_data()
    ids = set(data["ids"])
    assert data["parents"][0] == "" and all(p in ids for p in data["parents"][1:])
    by_id = dict(zip(data["ids"], data["values"]))
    for node_id, parent, value in zip(data["ids"], data["parents"], data["values"]):
        kids = [v for i, p, v in zip(data["ids"], data["parents"], data["values"]) if p == node_id]
        assert sum(kids) <= value + 1e-9
        if parent:
            assert value <= by_id[parent] + 1e-9
    assert not any(label in ("_call_impl", "_wrapped_call_impl") for label in data["labels"])


def test_time_splits_into_torch_ops_and_python(profile):
    shares = profile.group_shares()
    assert set(shares) == set(GROUPS)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["torch ops (C++)"] > 0.05 and shares["explorer Python"] > 0
    assert shares["figures"] > 0  # the request builds a Plotly figure
    labels = profile.icicle_data()["labels"]
    assert "prefill" in labels and "decode" in labels and "to_dict" in labels


def test_pure_python_is_not_called_torch():
    def busy() -> None:
        end = time.perf_counter() + 0.05
        total = 0
        while time.perf_counter() < end:
            total += sum(range(200))

    shares = python_profile(busy).group_shares()
    assert shares["torch ops (C++)"] == 0 and shares["torch Python"] == 0


def test_the_guide_names_every_tool_and_its_caveat():
    for tool in ("torch.profiler", "pyinstrument", "cProfile", "line_profiler", "memory_profiler", "py-spy"):
        assert f"`{tool}`" in PROFILER_GUIDE
    assert "never run it together with a time profiler" in PROFILER_GUIDE and "differences" in PROFILER_GUIDE
