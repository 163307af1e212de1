"""The Python around the model: a sampling profile of one request, as a tree for an icicle chart.

``torch.profiler`` answers "which operator and which module"; it cannot say that a request spent
a third of its time in the tokenizer, the decoding loop or building figures. A Python-level
profiler answers that. We use **pyinstrument** (a statistical profiler: it looks at the call
stack every ``interval`` seconds) rather than **cProfile** (deterministic: it times every
function call) because:

* its overhead is per sample, not per call, so the many tiny calls around a model (``nn.Module``
  dispatch, ``__getattr__``, tensor methods) are not inflated; cProfile adds a fixed cost to
  each call, which makes call-heavy Python look slower than it is;
* it records wall-clock time including time spent inside C/C++ (pyinstrument 5 shows native
  calls such as ``torch._C._nn.linear`` as ``<built-in>`` frames), so torch's operator time and
  the Python that calls it land in one tree;
* it profiles only the thread that started it, so other sessions served by the same process do
  not appear (cProfile is also per-thread; ``py-spy`` sees the whole process from outside).

Groups for the share of time: native calls under torch or model code = **torch ops (C++)**;
Python in ``torch/`` = **torch Python** (module call machinery, functional wrappers); the
explorer's own code = **explorer Python**; ``tokenizers``; ``plotly`` = **figures**; the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GROUPS = ("torch ops (C++)", "torch Python", "explorer Python", "tokenizer", "figures", "other Python")
DEFAULT_INTERVAL = 0.0005
MIN_SHARE = 0.002  # frames below this share of the root are folded into their parent
_MODULE_CALL = ("_wrapped_call_impl", "_call_impl")

PROFILER_GUIDE = """
| tool | what it measures | use it when | caveats |
|---|---|---|---|
| `torch.profiler` | every operator (CPU and CUDA kernels), per-module ranges, memory, shapes | you want to know **which operator or module** costs time or memory inside the model | adds a few µs per operator: small models look slower; one profiler per process; CUDA times need synchronisation |
| `pyinstrument` (this tab) | wall time of the **Python call stack**, sampled every ~0.5 ms | the question is **where the request goes** outside the model: tokenizer, loop, figures | statistical: calls shorter than the interval are seen only on average; C code shows as one `<built-in>` frame |
| `cProfile` | every Python function call, **deterministically**, with call counts | you need exact call counts or the callers of a function | fixed cost per call inflates call-heavy code (module dispatch); blind inside C; per thread |
| `line_profiler` | time per **source line** of functions you decorate | one function is known to be slow and you want the line | line times are differences of timer reads: they include the profiler's own cost, compare them with each other, not as absolutes |
| `memory_profiler` | process memory (RSS) per line or over time | you suspect a leak or a peak in Python objects | RSS includes the allocator's caches; never run it together with a time profiler (each distorts the other) |
| `py-spy` | samples a running process **from outside**, no code change | a live server is slow and you cannot restart it under a profiler | needs permission to read another process (ptrace); with `--native` it sees into C/C++ |
"""


@dataclass
class PyNode:
    """One frame of the collapsed call tree: times in seconds, ``group`` for colours and shares."""

    id: str
    label: str
    parent: str
    total_s: float
    self_s: float
    group: str
    location: str


@dataclass
class PythonProfile:
    nodes: list[PyNode]
    wall_s: float  # perf_counter around the request, profiler on
    root_s: float  # what the profiler attributed to the request's root frame
    group_seconds: dict[str, float] = field(default_factory=dict)
    interval_s: float = DEFAULT_INTERVAL
    samples: int = 0

    def group_shares(self) -> dict[str, float]:
        total = sum(self.group_seconds.values())
        return {g: v / total for g, v in self.group_seconds.items()} if total > 0 else {}

    def icicle_data(self) -> dict[str, list[Any]]:
        """ids / labels / parents / values (total seconds) / groups for a Plotly icicle (branchvalues="total")."""
        return {
            "ids": [n.id for n in self.nodes],
            "labels": [n.label for n in self.nodes],
            "parents": [n.parent for n in self.nodes],
            "values": [n.total_s for n in self.nodes],
            "groups": [n.group for n in self.nodes],
            "locations": [n.location for n in self.nodes],
        }


def _file_group(path: str) -> str:
    p = path.replace("\\", "/")
    if "/torch/" in p or p.startswith("torch/"):
        return "torch Python"
    if "/tokenizers/" in p:
        return "tokenizer"
    if "/plotly/" in p or "/_plotly_utils/" in p:
        return "figures"
    if "/explorer/" in p or p.startswith("explorer/"):
        return "explorer Python"
    return "other Python"


def _is_builtin(frame: Any) -> bool:
    return "<built-in>" in (frame.file_path or "")


def _group(frame: Any, parent_group: str | None) -> str:
    """A native call takes its caller's side: under torch or the explorer it is a torch op."""
    if _is_builtin(frame):
        if parent_group in ("torch Python", "explorer Python", "torch ops (C++)"):
            return "torch ops (C++)"
        if parent_group == "tokenizer":
            return "tokenizer"
        if "torch" in (frame.function or "") or "Tensor" in (frame.function or "") or "Variable" in (frame.function or ""):
            return "torch ops (C++)"
        return parent_group or "other Python"
    return _file_group(frame.file_path or "")


def _children(frame: Any) -> list[Any]:
    """Children with nn.Module's call wrappers spliced out (they add depth, not information)."""
    out = []
    for child in frame.children:
        if getattr(child, "is_synthetic", False):
            continue
        if child.function in _MODULE_CALL and (child.file_path or "").endswith("torch/nn/modules/module.py"):
            out.extend(_children(child))
        else:
            out.append(child)
    return out


def tree_from_frame(root: Any, min_share: float = MIN_SHARE) -> tuple[list[PyNode], dict[str, float]]:
    """Collapse a pyinstrument frame tree: merge same-function siblings, fold tiny frames, group self time."""
    nodes: list[PyNode] = []
    groups: dict[str, float] = {g: 0.0 for g in GROUPS}
    floor = max(root.time, 1e-12) * min_share

    def visit(frames: list[Any], node_id: str, parent_id: str, parent_group: str | None, label: str, location: str) -> None:
        total = sum(f.time for f in frames)
        group = _group(frames[0], parent_group)
        kids: dict[tuple[str, str], list[Any]] = {}
        for f in frames:
            for c in _children(f):
                kids.setdefault((c.function or "?", c.file_path or ""), []).append(c)
        shown = {k: v for k, v in kids.items() if sum(c.time for c in v) >= floor}
        child_total = sum(sum(c.time for c in v) for v in shown.values())
        self_s = max(0.0, total - child_total)
        groups[group] += self_s
        nodes.append(PyNode(node_id, label, parent_id, total, self_s, group, location))
        for i, ((function, path), frames_k) in enumerate(sorted(shown.items(), key=lambda kv: -sum(c.time for c in kv[1]))):
            first = frames_k[0]
            short = getattr(first, "file_path_short", None) or path
            loc = f"{short}:{first.line_no}" if not _is_builtin(first) else "native"
            visit(frames_k, f"{node_id}/{i}", node_id, group, function, loc)

    loc = f"{getattr(root, 'file_path_short', '')}:{root.line_no}"
    visit([root], "root", "", None, root.function or "request", loc)
    nodes[0].label = "request"
    return nodes, groups


def python_profile(request: Callable[[], Any], interval: float = DEFAULT_INTERVAL, min_share: float = MIN_SHARE) -> PythonProfile:
    """Run ``request()`` once under pyinstrument and return the collapsed tree and group times."""
    from pyinstrument import Profiler

    profiler = Profiler(interval=interval, async_mode="disabled")
    start = time.perf_counter()
    profiler.start()
    try:
        request()
    finally:
        profiler.stop()
    wall = time.perf_counter() - start
    session = profiler.last_session
    root = session.root_frame() if session is not None else None
    if root is None:
        return PythonProfile([], wall, 0.0, {g: 0.0 for g in GROUPS}, interval, 0)
    nodes, groups = tree_from_frame(root, min_share)
    samples = int(getattr(session, "sample_count", 0) or 0)
    return PythonProfile(nodes, wall, float(root.time), groups, interval, samples)


def generation_request(
    model: Any, tokenizer: Any, text: str, new_tokens: int, generator: Any
) -> Callable[[], dict[str, Any]]:
    """A whole request as a page serves it: tokenize, prefill, greedy decode with the cache, detokenize,
    build a Plotly figure of the last step's top tokens. ``generator`` is a :class:`~explorer.profiling.phases.Generator`."""
    import plotly.graph_objects as go
    import torch

    def run() -> dict[str, Any]:
        ids = torch.tensor([tokenizer.encode(text)])
        with torch.no_grad():
            logits, cache = generator.prefill(model, ids, None)
            out: list[int] = []
            for _ in range(new_tokens):
                last = logits[:, -1] if logits.dim() == 3 else logits
                token = last.argmax(dim=-1, keepdim=True)
                out.append(int(token))
                logits, cache = generator.decode(model, token, cache)
            last = logits[:, -1] if logits.dim() == 3 else logits
            probs = torch.softmax(last[0].float(), dim=-1)
            top = probs.topk(10)
        labels = [tokenizer.decode([int(i)]) for i in top.indices]
        fig = go.Figure(go.Bar(x=top.values.tolist(), y=labels, orientation="h"))
        fig.to_dict()
        return {"text": tokenizer.decode(out), "figure": fig}

    return run
