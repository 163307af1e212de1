"""The profiled run: per-module scopes on a private copy, ``torch.profiler`` with a schedule, parsed results.

How a module's numbers are made:

* Every module of the *private* model copy gets its ``forward`` wrapped in a profiler scope
  named ``module::<dotted path>`` (a cheap ``RecordFunction``; nothing else runs per call).
  The scopes nest the way the calls nest, so the profiler's own event tree gives each
  module's **total** time (its scope, children included).
* **Self** time = total minus the totals of its child *modules*; the operators a module
  runs itself (a reshape, a softmax) stay in its self time.
* Containers that are never called themselves (``encoder`` when ``Transformer.encode``
  loops over ``encoder.layers``) get the sum of their children: exact, since the
  children are disjoint in time.
* **Net memory** is what the profiler attributes to the scope (allocations minus frees
  inside it): negative when a module frees more than it allocates (e.g. it releases its
  input's intermediates). **Peak** memory is the highest point of the running allocation
  total while the scope is open, above its level at entry.
* FLOPs, parameters and shapes come from a separate untimed pass (:mod:`explorer.profiling.flops`).
* Times are per step, mean and standard deviation over the active steps of the schedule
  (the median too: on a shared machine one slow step moves the mean, not the median).

Why wrappers on a private copy and not hooks or ``with_modules``: the scopes must be
``record_function`` ranges so that every export (Chrome trace, TensorBoard) carries them,
nested as the calls nest. ``torch.profiler``'s ``with_modules=True`` only names TorchScript
modules, and process-global module hooks would fire for other sessions' models on other
threads. So the ranges are installed as instance ``forward`` wrappers on a model that belongs
to this run alone: a full deep copy when training (gradients, dropout) or a *skeleton* copy in
inference (:func:`skeleton_copy`: new module objects sharing the read-only weight tensors, so a
135M-parameter model costs no second copy of its weights). The shared cached model is never
touched.
"""

from __future__ import annotations

import copy
import gzip
import io
import math
import re
import shutil
import statistics
import tempfile
import time
import warnings
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler

from explorer.models.attention import MultiHeadAttention
from explorer.models.blocks import DecoderLayer, EncoderLayer, FeedForward
from explorer.profiling.estimate import DEFAULT_MAX_SECONDS, Estimate, check_budget
from explorer.profiling.flops import BACKWARD, ROOT, StaticInfo, static_info
from explorer.profiling.lock import profiler_lock
from explorer.profiling.request import (
    ProfileRequest,
    ProfilingError,
    build_model,
    load_trained,
    loss_of,
    make_inputs,
    validate_request,
)

SCOPE = "module::"
ROOT_NAME = "(model)"
LOSS = "[loss]"
OTHER = "[step overhead]"
TOP_LEVEL_EXTRAS = (LOSS, BACKWARD)

_RecordFunctionFast = getattr(torch._C._profiler, "_RecordFunctionFast", None)


def category_of(module: nn.Module | None, path: str) -> str:
    """A coarse kind used for colours and for the scaling fit: attention, feed_forward, norm, ..."""
    if path in (LOSS, BACKWARD):
        return "backward" if path == BACKWARD else "loss"
    if isinstance(module, MultiHeadAttention):
        return "attention"
    if isinstance(module, FeedForward):
        return "feed_forward"
    if isinstance(module, (EncoderLayer, DecoderLayer)):
        return "block"
    if isinstance(module, nn.LayerNorm):
        return "norm"
    if isinstance(module, nn.Linear):
        return "linear"
    name = type(module).__name__.lower() if module is not None else ""
    if "embed" in name:
        return "embedding"
    if isinstance(module, nn.Dropout):
        return "dropout"
    return "other"


def display_path(path: str) -> str:
    return ROOT_NAME if path == ROOT else path


def parent_of(path: str) -> str | None:
    """Dotted-path parent in the displayed tree; the extras ([loss], [backward]) are top level."""
    if path in (ROOT_NAME, *TOP_LEVEL_EXTRAS):
        return None
    return path.rsplit(".", 1)[0] if "." in path else ROOT_NAME


def depth_of(path: str) -> int:
    if path in (ROOT_NAME, *TOP_LEVEL_EXTRAS):
        return 0
    return path.count(".") + 1


@dataclass
class ModuleRow:
    """One module's numbers, per step (mean over active steps unless said otherwise)."""

    path: str
    parent: str | None
    depth: int
    kind: str
    category: str
    called: bool
    calls: float
    total_us: float
    total_std_us: float
    self_us: float
    share: float
    cpu_mem_net: float
    cpu_mem_peak: float
    flops: int
    params: int
    input_shapes: str
    output_shapes: str
    device_total_us: float = 0.0
    device_self_us: float = 0.0
    device_mem_net: float = 0.0
    total_median_us: float = 0.0
    total_samples_us: list[float] = field(default_factory=list)

    @property
    def gflops_per_s(self) -> float:
        return self.flops / (self.total_us * 1e3) if self.total_us > 0 and self.flops else 0.0


@dataclass
class MemoryTimeline:
    """Running total of allocations (bytes, relative to the step start) during the first active step."""

    t_ms: list[float]
    bytes: list[float]
    spans: list[tuple[str, int, float, float]]  # (path, depth, start_ms, end_ms) of module calls
    device: str = "cpu"


@dataclass
class ProfileResult:
    """Everything one run measured; the page, the CLI and the figures read from here."""

    request: ProfileRequest
    estimate: Estimate
    rows: list[ModuleRow]
    events: Any  # torch.autograd.profiler_util.EventList of operator events (annotations removed)
    step_us: list[float]  # profiler's own step totals (CPU), active steps
    wall_profiled_s: list[float]  # perf_counter per active step, profiler on
    wall_plain_s: list[float]  # perf_counter per step of the same schedule, profiler off, no scopes
    backward_flops: int
    timeline: MemoryTimeline
    device_label: str
    started_at: str
    chrome_trace_gz: bytes | None = None
    tensorboard_zip: bytes | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def active_steps(self) -> int:
        return len(self.step_us)

    @property
    def step_mean_us(self) -> float:
        return statistics.fmean(self.step_us) if self.step_us else 0.0

    @property
    def overhead_ratio(self) -> float:
        """Median profiled step / median unprofiled step (same model, inputs and steps): the profiler's cost."""
        if not self.wall_plain_s or not self.wall_profiled_s:
            return float("nan")
        return statistics.median(self.wall_profiled_s) / max(statistics.median(self.wall_plain_s), 1e-12)

    @property
    def overhead_range(self) -> tuple[float, float]:
        """The ratio's noise band: lower quartile profiled / upper quartile plain, and the reverse.

        If the band contains 1, the run cannot tell the profiler's cost from the machine's noise.
        """
        if len(self.wall_plain_s) < 2 or len(self.wall_profiled_s) < 2:
            return (float("nan"), float("nan"))
        p25, _, p75 = _quartiles(self.wall_profiled_s)
        q25, _, q75 = _quartiles(self.wall_plain_s)
        return (p25 / max(q75, 1e-12), p75 / max(q25, 1e-12))

    def row(self, path: str) -> ModuleRow:
        for row in self.rows:
            if row.path == path:
                return row
        raise KeyError(path)

    def children(self, path: str) -> list[ModuleRow]:
        return [r for r in self.rows if r.parent == path]

    def module_records(self, max_depth: int | None = None) -> list[dict[str, Any]]:
        """Rows as plain dicts (for tables, CSV, JSON), optionally down to ``max_depth``."""
        out = []
        for r in self.rows:
            if max_depth is not None and r.depth > max_depth:
                continue
            record = asdict(r)
            record["gflops_per_s"] = r.gflops_per_s
            out.append(record)
        return out


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    q = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return float(q[0]), float(q[1]), float(q[2])


# --------------------------------------------------------------------------- scopes


class _Scope:
    """A profiler range; ``_RecordFunctionFast`` where available (a few hundred ns when idle)."""

    __slots__ = ("name", "handle")

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        if _RecordFunctionFast is not None:
            self.handle = _RecordFunctionFast(self.name)
            self.handle.__enter__()
        else:  # pragma: no cover - older torch
            self.handle = torch.autograd.profiler.record_function(self.name)
            self.handle.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self.handle.__exit__(*exc)


def install_scopes(model: nn.Module) -> None:
    """Wrap every module's ``forward`` in a ``module::<path>`` scope. Only ever on a private copy."""
    for path, module in model.named_modules():
        original = module.forward
        label = SCOPE + display_path(path)

        if _RecordFunctionFast is not None:

            def forward(*args: Any, _original: Callable[..., Any] = original, _label: str = label, **kwargs: Any) -> Any:
                with _RecordFunctionFast(_label):  # ~2 us per call with the profiler on, ~0.5 us when off
                    return _original(*args, **kwargs)

        else:  # pragma: no cover - older torch

            def forward(*args: Any, _original: Callable[..., Any] = original, _label: str = label, **kwargs: Any) -> Any:
                with _Scope(_label):
                    return _original(*args, **kwargs)

        module.forward = forward  # instance attribute: nn.Module.__call__ finds it first


def skeleton_copy(model: nn.Module) -> nn.Module:
    """New module objects for this run that share the original's parameter and buffer tensors.

    ``deepcopy`` with every parameter and buffer pre-seeded in the memo: the module tree (where
    the scopes go) is private, the weights are not copied. Only for inference: the tensors are
    shared, so nothing may write to them (no training, no in-place edits).
    """
    memo: dict[int, Any] = {}
    for tensor in list(model.parameters()) + list(model.buffers()):
        memo[id(tensor)] = tensor
    return copy.deepcopy(model, memo)


def remove_scopes(model: nn.Module) -> None:
    for module in model.modules():
        module.__dict__.pop("forward", None)


def _make_step(
    model: nn.Module, inputs: tuple[torch.Tensor, ...], train: bool, scoped: bool, eager: bool = False
) -> Callable[[], None]:
    """One step of the run; ``eager`` asks for the attention maps, which forces the explicit softmax path."""
    params = [p for p in model.parameters() if p.requires_grad]
    kwargs = {"return_attention": True} if eager else {}

    def scope(name: str) -> Any:
        return _Scope(name) if scoped else _Null()

    if train:

        def step() -> None:
            output = model(*inputs, **kwargs)
            with scope(SCOPE + LOSS):
                loss = loss_of(output)
            with scope(SCOPE + BACKWARD):
                loss.backward()
            for p in params:
                p.grad = None

    else:

        def step() -> None:
            with torch.no_grad():
                model(*inputs, **kwargs)

    return step


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------- the run


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    oom = getattr(torch, "OutOfMemoryError", None)
    if oom is not None and isinstance(exc, oom):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def profile_model(
    request: ProfileRequest,
    *,
    on_wait: Callable[[str], None] | None = None,
    keep_trace: bool = True,
    measure_overhead: bool = True,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    max_bytes: int | None = None,
    lock_timeout: float = 600.0,
) -> ProfileResult:
    """Profile one request end to end and return its :class:`ProfileResult`.

    Order: validate; estimate and refuse if over budget; build a private model; untimed FLOP
    pass; unprofiled reference steps (for the overhead ratio); then, under the process-wide
    lock, the profiled steps. Out-of-memory is caught and reported as :class:`ProfilingError`.
    """
    validate_request(request)
    est = check_budget(request, max_seconds=max_seconds, max_bytes=max_bytes)
    try:
        return _profile(request, est, on_wait, keep_trace, measure_overhead, lock_timeout)
    except ProfilingError:
        raise
    except Exception as exc:
        if _is_oom(exc):
            raise ProfilingError(
                f"out of memory during the run ({est.summary()}); use a smaller batch, sequence or model"
            ) from None
        raise


def _profile(
    request: ProfileRequest,
    est: Estimate,
    on_wait: Callable[[str], None] | None,
    keep_trace: bool,
    measure_overhead: bool,
    lock_timeout: float,
) -> ProfileResult:
    device = torch.device(request.device)
    train = request.mode == "train"
    model = build_model(request, device)
    inputs = make_inputs(request, device)
    notes: list[str] = []
    if request.trained:
        warning = getattr(load_trained(request.model), "warning", None)
        if warning:
            notes.append(str(warning))

    eager = request.attention_path == "eager"
    # 1. Untimed pass: FLOPs, parameters, shapes (hooks on the private copy, removed afterwards).
    info, backward_flops = static_info(model, _make_step(model, inputs, train, scoped=False, eager=eager))

    # 2. The same schedule without profiler or scopes: the reference for the overhead ratio. Half of
    # the active steps run before the profiled ones and half after, so a slow spell of the shared
    # machine during the run does not land on one side only.
    plain: list[float] = []
    plain_step = _make_step(model, inputs, train, scoped=False, eager=eager)

    def run_plain(n: int, skip: int) -> None:
        for i in range(skip + n):
            start = time.perf_counter()
            plain_step()
            _sync(device)
            if i >= skip:
                plain.append(time.perf_counter() - start)

    if measure_overhead:
        run_plain((request.active + 1) // 2, request.wait + request.warmup)

    # 3. The profiled steps.
    install_scopes(model)
    step = _make_step(model, inputs, train, scoped=True, eager=eager)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    wall: list[float] = []
    started_at = time.strftime("%Y-%m-%d %H:%M:%S")
    with profiler_lock(on_wait, timeout=lock_timeout, what=request.describe()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            prof = profile(
                activities=activities,
                schedule=schedule(wait=request.wait, warmup=request.warmup, active=request.active, repeat=1),
                record_shapes=request.record_shapes,
                profile_memory=request.profile_memory,
            )
            prof.__enter__()
        except RuntimeError as exc:
            raise ProfilingError(f"could not start the profiler: {str(exc).splitlines()[0]}") from None
        try:
            for i in range(request.total_steps):
                start = time.perf_counter()
                step()
                _sync(device)
                if i >= request.wait + request.warmup:
                    wall.append(time.perf_counter() - start)
                prof.step()
        finally:
            prof.__exit__(None, None, None)
    remove_scopes(model)
    if measure_overhead:
        run_plain(request.active // 2, 0)

    events = prof.events()
    memory_events = _memory_events(prof, device)
    rows, step_us, timeline = _parse(events, memory_events, info, model, request, backward_flops)
    chrome = tensorboard = None
    if keep_trace:
        chrome, tensorboard = _export_traces(prof)
    if any(r.cpu_mem_net < 0 for r in rows):
        notes.append(
            "Some modules have a negative net memory: they freed more than they allocated inside their scope "
            "(for example a tensor made earlier that is released there). Peak memory is never negative."
        )
    return ProfileResult(
        request=request, estimate=est, rows=rows, events=_operator_events(events), step_us=step_us,
        wall_profiled_s=wall, wall_plain_s=plain, backward_flops=backward_flops, timeline=timeline,
        device_label=_device_label(device), started_at=started_at, chrome_trace_gz=chrome,
        tensorboard_zip=tensorboard, notes=notes,
    )


def _device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"


def _memory_events(prof: profile, device: torch.device) -> list[tuple[float, int]]:
    """(time in us since trace start, bytes) of every allocation (+) and free (-) on the device."""
    try:
        results = prof.profiler.kineto_results  # type: ignore[union-attr]
        origin = results.trace_start_ns()  # type: ignore[union-attr]
        wanted = "CUDA" if device.type == "cuda" else "CPU"
        out = []
        for e in results.events():  # type: ignore[union-attr]
            if e.name() == "[memory]" and wanted in str(e.device_type()):
                out.append(((e.start_ns() - origin) / 1e3, int(e.nbytes())))  # type: ignore[union-attr]
        out.sort()
        return out
    except (AttributeError, RuntimeError):  # pragma: no cover - profiler internals moved
        return []


def _export_traces(prof: profile) -> tuple[bytes | None, bytes | None]:
    """Chrome trace (gzipped JSON for Perfetto / chrome://tracing) and a zipped TensorBoard trace dir.

    Kineto can save a trace only once, so ``tensorboard_trace_handler`` writes it (as
    ``<worker>.<time>.pt.trace.json`` in a run directory, the layout TensorBoard's profiler
    plugin reads) and the Chrome download is that same file, gzipped in one call (the
    handler's own gzip option writes line by line and is ~10x slower).
    """
    tmp = Path(tempfile.mkdtemp(prefix="explorer-trace-"))
    try:
        tb_dir = tmp / "profiler_trace"
        tensorboard_trace_handler(str(tb_dir), worker_name="explorer", use_gzip=False)(prof)
        files = sorted(p for p in tb_dir.rglob("*") if p.is_file())
        if not files:
            return None, None
        raw = mark_module_ranges(files[0].read_bytes())
        files[0].write_bytes(raw)
        chrome = gzip.compress(raw, compresslevel=6)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in files:
                zf.write(path, path.relative_to(tmp))
        return chrome, buffer.getvalue()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_MODULE_RANGE = re.compile(rb'"cat": "cpu_op",(\s*)"name": "' + re.escape(SCOPE.encode()))


def mark_module_ranges(raw: bytes) -> bytes:
    """Label the module ranges ``user_annotation`` in a Kineto trace, as ``record_function`` ranges are.

    The scopes use ``_RecordFunctionFast`` (about a third of ``record_function``'s cost per call,
    which keeps per-module profiling within 1.1x of plain ``torch.profiler``), and Kineto files
    those under ``cpu_op``. TensorBoard and Perfetto group user annotations as the user's own
    ranges, so the export names them the way a ``record_function`` range would be named.
    """
    return _MODULE_RANGE.sub(rb'"cat": "user_annotation",\1"name": "' + SCOPE.encode(), raw)


def _is_annotation(name: str) -> bool:
    return name.startswith((SCOPE, "ProfilerStep"))


def _operator_events(events: Any) -> Any:
    """The operator events only (module scopes and step markers are in the module table)."""
    return event_list([e for e in events if not _is_annotation(e.name)], events)


def event_list(kept: list[Any], source: Any) -> Any:
    """An ``EventList`` of already-linked events (parents/children set by the profiler's full list).

    Rebuilding the tree on a subset would re-link shared event objects and corrupt self
    times, so the list is marked as built instead.
    """
    from torch.autograd.profiler_util import EventList

    out = EventList(kept, use_device=getattr(source, "_use_device", None), profile_memory=True)
    out._tree_built = True
    return out


def _step_root(event: Any) -> Any:
    while event.cpu_parent is not None:
        event = event.cpu_parent
    return event


def _peak_within(times: np.ndarray, running: np.ndarray, start: float, end: float) -> float:
    """Highest running total between start and end, above the level just before start."""
    i0 = int(np.searchsorted(times, start, side="left"))
    i1 = int(np.searchsorted(times, end, side="right"))
    if i1 <= i0:
        return 0.0
    base = running[i0 - 1] if i0 > 0 else 0.0
    return float(max(0.0, running[i0:i1].max() - base))


def _parse(
    events: Any,
    memory_events: list[tuple[float, int]],
    info: dict[str, StaticInfo],
    model: nn.Module,
    request: ProfileRequest,
    backward_flops: int,
) -> tuple[list[ModuleRow], list[float], MemoryTimeline]:
    """Turn profiler events into per-module rows (see the module docstring for the definitions)."""
    steps: dict[int, Any] = {}
    # per path -> per step id -> accumulators
    total: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    device_total: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    mem_net: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    device_mem: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    calls: dict[str, int] = defaultdict(int)
    intervals: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for e in events:
        if not e.name.startswith(SCOPE):
            if e.name.startswith("ProfilerStep") and e.cpu_parent is None:
                steps[e.id] = e
            continue
        path = e.name[len(SCOPE):]
        root = _step_root(e)
        sid = root.id
        steps.setdefault(sid, root)
        total[path][sid] += e.cpu_time_total
        device_total[path][sid] += float(getattr(e, "device_time_total", 0.0) or 0.0)
        mem_net[path][sid] += float(e.cpu_memory_usage)
        device_mem[path][sid] += float(getattr(e, "device_memory_usage", 0) or 0)
        calls[path] += 1
        intervals[path].append((sid, e.time_range.start, e.time_range.end))
    step_ids = sorted(steps, key=lambda s: steps[s].time_range.start)
    n_steps = max(1, len(step_ids))
    step_us = [steps[s].cpu_time_total for s in step_ids]
    step_mean = statistics.fmean(step_us) if step_us else 0.0

    times = np.array([t for t, _ in memory_events], dtype=float)
    running = np.cumsum([b for _, b in memory_events]).astype(float) if memory_events else np.zeros(0)

    modules = dict(model.named_modules())
    paths = [display_path(p) for p in modules] + [p for p in TOP_LEVEL_EXTRAS if p in total]
    children: dict[str, list[str]] = defaultdict(list)
    for p in paths:
        parent = parent_of(p)
        if parent is not None:
            children[parent].append(p)

    per_step_total: dict[str, list[float]] = {}
    per_step_device: dict[str, list[float]] = {}
    per_step_mem: dict[str, list[float]] = {}
    per_step_dmem: dict[str, list[float]] = {}
    flops: dict[str, int] = {}

    def resolve(p: str) -> None:
        """Fill the per-step series of ``p``; uncalled containers sum their children."""
        if p in per_step_total:
            return
        for c in children[p]:
            resolve(c)
        raw = "" if p == ROOT_NAME else p
        static = info.get(raw)
        if p in total:
            per_step_total[p] = [total[p].get(s, 0.0) for s in step_ids]
            per_step_device[p] = [device_total[p].get(s, 0.0) for s in step_ids]
            per_step_mem[p] = [mem_net[p].get(s, 0.0) for s in step_ids]
            per_step_dmem[p] = [device_mem[p].get(s, 0.0) for s in step_ids]
            flops[p] = static.flops if static is not None else (backward_flops if p == BACKWARD else 0)
        else:
            zeros = [0.0] * len(step_ids)
            per_step_total[p] = [sum(v) for v in zip(*(per_step_total[c] for c in children[p]))] if children[p] else zeros
            per_step_device[p] = [sum(v) for v in zip(*(per_step_device[c] for c in children[p]))] if children[p] else zeros
            per_step_mem[p] = [sum(v) for v in zip(*(per_step_mem[c] for c in children[p]))] if children[p] else zeros
            per_step_dmem[p] = [sum(v) for v in zip(*(per_step_dmem[c] for c in children[p]))] if children[p] else zeros
            flops[p] = sum(flops[c] for c in children[p])
        if p == BACKWARD:
            flops[p] = backward_flops

    for p in paths:
        resolve(p)

    rows: list[ModuleRow] = []
    for p in paths:
        raw = "" if p == ROOT_NAME else p
        module = modules.get(raw)
        static = info.get(raw)
        series = per_step_total[p] or [0.0]
        mean_total = statistics.fmean(series)
        median_total = statistics.median(series)
        std_total = statistics.stdev(series) if len(series) > 1 else 0.0
        child_sum = sum(statistics.fmean(per_step_total[c] or [0.0]) for c in children[p])
        device_mean = statistics.fmean(per_step_device[p] or [0.0])
        device_child = sum(statistics.fmean(per_step_device[c] or [0.0]) for c in children[p])
        called = p in total
        peaks = []
        for sid in step_ids:
            spans = [iv for iv in intervals.get(p, []) if iv[0] == sid]
            if spans and len(times):
                peaks.append(max(_peak_within(times, running, s, e) for _, s, e in spans))
        peak = statistics.fmean(peaks) if peaks else 0.0  # uncalled containers: filled from children below
        rows.append(
            ModuleRow(
                path=p,
                parent=parent_of(p),
                depth=depth_of(p),
                kind=type(module).__name__ if module is not None else ("Backward" if p == BACKWARD else "Loss"),
                category=category_of(module, p),
                called=called,
                calls=calls.get(p, 0) / n_steps,
                total_us=mean_total,
                total_std_us=std_total,
                self_us=max(0.0, mean_total - child_sum) if called else 0.0,
                share=mean_total / step_mean if step_mean > 0 else 0.0,
                cpu_mem_net=statistics.fmean(per_step_mem[p] or [0.0]),
                cpu_mem_peak=peak,
                flops=int(flops.get(p, 0)),
                params=static.params if static is not None else 0,
                input_shapes=static.input_shapes if static is not None else "",
                output_shapes=static.output_shapes if static is not None else "",
                device_total_us=device_mean,
                device_self_us=max(0.0, device_mean - device_child) if called else 0.0,
                device_mem_net=statistics.fmean(per_step_dmem[p] or [0.0]),
                total_median_us=median_total,
                total_samples_us=list(series),
            )
        )
    # Peaks of uncalled containers need their children's peaks, which exist now.
    by_path = {r.path: r for r in rows}
    for r in sorted(rows, key=lambda r: -r.depth):
        if not r.called and children[r.path]:
            r.cpu_mem_peak = max(by_path[c].cpu_mem_peak for c in children[r.path])

    timeline = _timeline(steps[step_ids[0]] if step_ids else None, memory_events, intervals, step_ids)
    return rows, step_us, timeline


def _timeline(
    step: Any, memory_events: list[tuple[float, int]], intervals: dict[str, list[tuple[int, float, float]]], step_ids: list[int]
) -> MemoryTimeline:
    if step is None:
        return MemoryTimeline([], [], [])
    start, end = step.time_range.start, step.time_range.end
    t_ms = [0.0]
    level = [0.0]
    running = 0.0
    for t, nbytes in memory_events:
        if start <= t <= end:
            running += nbytes
            t_ms.append((t - start) / 1e3)
            level.append(running)
    t_ms.append((end - start) / 1e3)
    level.append(running)
    spans = []
    for path, ivs in intervals.items():
        for sid, s, e in ivs:
            if sid == step_ids[0]:
                spans.append((path, depth_of(path), (s - start) / 1e3, (e - start) / 1e3))
    spans.sort(key=lambda x: x[2])
    return MemoryTimeline(t_ms=t_ms, bytes=level, spans=spans)


def is_finite(x: float) -> bool:
    return not (math.isnan(x) or math.isinf(x))
