"""Two-phase profile of generation: the prefill of a T-token prompt, then N decode steps with a KV cache.

Pope et al. 2022 ("Efficiently Scaling Transformer Inference", Section 2) split generation into
these two phases because they cost differently: the prefill runs every prompt token through
every matrix at once (compute-bound; attention's T^2 products grow with the prompt), while a
decode step runs one token, reads every weight once and reads the whole cache (memory-bound;
tokens per second are far lower per token). The per-module table of each phase shows it.

The model is reached through a small interface (:class:`Generator`): a ``prefill(model, ids)``
and a ``decode(model, ids, cache)`` that both return ``(logits, cache)``. Any decoder-only LM or
encoder-decoder translator fits by writing those two functions (:func:`lm_generator`,
:func:`marian_generator`). The module ranges are ``module::<path>`` scopes installed on a
*skeleton copy* (new module objects sharing the read-only weights, see
:func:`explorer.profiling.runner.skeleton_copy`): the shared cached model is never touched and no
second copy of its weights is made. Each profiled step is ``phase::prefill`` then
``phase::decode``; a module call belongs to the phase whose range encloses it.
"""

from __future__ import annotations

import gzip
import shutil
import statistics
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile, schedule

from explorer.profiling.flops import static_info
from explorer.profiling.lock import profiler_lock
from explorer.profiling.request import ProfilingError
from explorer.profiling.runner import (
    ROOT_NAME,
    SCOPE,
    _Scope,
    display_path,
    install_scopes,
    mark_module_ranges,
    skeleton_copy,
)

PHASE = "phase::"
PHASES = ("prefill", "decode")
MAX_PROMPT = 2048
MAX_NEW_TOKENS = 256
MAX_STEPS = 20

Step = Callable[[nn.Module, torch.Tensor, Any], tuple[torch.Tensor, Any]]


@dataclass(frozen=True)
class Generator:
    """How to run one model's two phases (see the module docstring).

    ``prefill(model, ids (B, T), None)`` and ``decode(model, ids (B, 1), cache)`` both return
    ``(logits, cache)`` with logits (B, T or 1, vocab); ``model`` is the skeleton copy to call.
    ``eager_prefill`` / ``eager_decode``, when given, run the same phases asking for the attention
    maps (the explicit softmax path).
    """

    name: str
    model: nn.Module
    prefill: Step
    decode: Step
    vocab_size: int
    eager_prefill: Step | None = None
    eager_decode: Step | None = None
    # (dotted path of a method on the model, range name): methods that do a module's work without
    # calling its forward (a tied unembedding, cross-attention against cached K/V) get a range too.
    method_scopes: tuple[tuple[str, str], ...] = ()


@dataclass
class PhaseRow:
    """One module in one phase, per profiled step (mean over the active steps)."""

    path: str
    depth: int
    kind: str
    category: str
    calls: float
    total_us: float
    self_us: float
    share: float
    flops: int
    parent: str | None = None  # the enclosing range in the event tree (None: directly under the phase)


@dataclass
class PhaseTable:
    """One phase: per-module rows, its time (profiled and plain), FLOPs, tokens per second, cache size."""

    phase: str
    rows: list[PhaseRow]
    profiled_us: float  # mean of the phase range over the active steps
    plain_s: list[float]  # the same phase without profiler or scopes, per step
    tokens: int  # tokens processed per step (batch x prompt, or batch x new tokens)
    flops: int
    cache_bytes: int  # KV cache held at the end of the phase

    @property
    def plain_median_s(self) -> float:
        return statistics.median(self.plain_s) if self.plain_s else float("nan")

    @property
    def tokens_per_s(self) -> float:
        """Measured without the profiler, so the profiler's cost does not lower it."""
        t = self.plain_median_s
        return self.tokens / t if t and t == t and t > 0 else float("nan")

    def category_shares(self) -> dict[str, float]:
        """Share of the phase's time per category, from the outermost module of each category (no double counting)."""
        return _shares(self.rows, self.profiled_us, lambda r: r.category)

    def part_shares(self) -> dict[str, float]:
        """Share per top-level part of the model (``encoder``, ``decoder_layers``, ``layers``, ``lm_head``...),
        from the outermost ranges under the root (containers that are never called are summed through their children)."""
        if self.profiled_us <= 0:
            return {}
        out: dict[str, float] = defaultdict(float)
        for r in self.rows:
            if r.path != ROOT_NAME and r.parent in (None, ROOT_NAME):
                out[r.path.split(".")[0]] += r.total_us / self.profiled_us
        return dict(out)


@dataclass
class PhaseProfile:
    """Both phases of one request plus what produced them."""

    name: str
    batch: int
    prompt_len: int
    new_tokens: int
    attention_path: str
    prefill: PhaseTable
    decode: PhaseTable
    active_steps: int
    params: int
    weight_bytes: int
    chrome_trace_gz: bytes | None = None
    notes: list[str] = field(default_factory=list)

    def table(self, phase: str) -> PhaseTable:
        if phase not in PHASES:
            raise ProfilingError(f"phase must be prefill or decode, got {phase!r}")
        return self.prefill if phase == "prefill" else self.decode


# --------------------------------------------------------------------------- categories


def module_category(path: str, module: nn.Module | None) -> str:
    """attention / cross_attention / recurrent / mlp / embedding / unembedding / norm / block / other.

    By class name first (any ``*Attention``, ``FeedForward``/``*MLP``, ``*Norm``, ``Embedding``),
    then by the conventional attribute names (``lm_head``, ``cross_attn``/``encoder_attn``).
    """
    name = type(module).__name__.lower() if module is not None else ""
    leaf = path.rsplit(".", 1)[-1].lower()
    if "attention" in name or "attn" in leaf:
        return "cross_attention" if ("cross" in leaf or "encoder_attn" in leaf or "src_attn" in leaf) else "attention"
    if "ssru" in name or "ssru" in leaf or "rnn" in name:
        return "recurrent"
    if "feedforward" in name or "mlp" in name or leaf in ("mlp", "ffn", "feed_forward"):
        return "mlp"
    if leaf in ("lm_head", "unembed", "generator", "output_projection") or "unembed" in name:
        return "unembedding"
    if "embed" in name or "embed" in leaf:
        return "embedding"
    if "norm" in name:
        return "norm"
    if "layer" in name or "block" in name:
        return "block"
    return "other"


def _shares(rows: Sequence[PhaseRow], total: float, key: Callable[[PhaseRow], str]) -> dict[str, float]:
    """Sum the outermost rows of each category (a category nested in itself is counted once)."""
    by_path = {r.path: r for r in rows}
    out: dict[str, float] = defaultdict(float)
    for r in rows:
        cat = key(r)
        if cat in ("block", "other") or r.path == ROOT_NAME:
            continue
        parent = r.parent
        nested = False
        while parent is not None:
            p = by_path.get(parent)
            if p is None:
                break
            if key(p) == cat:
                nested = True
                break
            parent = p.parent
        if not nested and total > 0:
            out[cat] += r.total_us / total
    return dict(out)


# --------------------------------------------------------------------------- helpers


def tensor_bytes(obj: Any) -> int:
    """Bytes of the distinct tensor storages reachable from ``obj`` (lists, tuples, dicts, dataclasses, objects)."""
    seen: set[int] = set()
    total = 0

    def visit(value: Any, depth: int = 0) -> None:
        nonlocal total
        if depth > 8:
            return
        if isinstance(value, torch.Tensor):
            storage = value.untyped_storage()
            key = storage.data_ptr()
            if key not in seen:
                seen.add(key)
                total += storage.nbytes()
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item, depth + 1)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item, depth + 1)
        elif is_dataclass(value) and not isinstance(value, type):
            for f in fields(value):
                visit(getattr(value, f.name), depth + 1)
        elif hasattr(value, "__dict__") and not isinstance(value, (nn.Module, type)):
            for item in vars(value).values():
                visit(item, depth + 1)

    visit(obj)
    return total


def _last_token(logits: torch.Tensor) -> torch.Tensor:
    """Greedy next id (B, 1) from logits (B, T, V) or (B, V)."""
    last = logits[:, -1] if logits.dim() == 3 else logits
    return last.argmax(dim=-1, keepdim=True)


def _run_phases(gen: Generator, model: nn.Module, ids: torch.Tensor, new_tokens: int, eager: bool, scoped: bool,
                times: dict[str, list[float]] | None = None) -> Any:
    prefill = gen.eager_prefill if eager and gen.eager_prefill is not None else gen.prefill
    decode = gen.eager_decode if eager and gen.eager_decode is not None else gen.decode
    with torch.no_grad():
        start = time.perf_counter()
        with _Scope(PHASE + "prefill") if scoped else _nullcontext():
            logits, cache = prefill(model, ids, None)
            token = _last_token(logits)
        middle = time.perf_counter()
        with _Scope(PHASE + "decode") if scoped else _nullcontext():
            for _ in range(new_tokens):
                logits, cache = decode(model, token, cache)
                token = _last_token(logits)
        end = time.perf_counter()
    if times is not None:
        times["prefill"].append(middle - start)
        times["decode"].append(end - middle)
    return cache


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _phase_of(event: Any) -> str | None:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith(PHASE):
            return parent.name[len(PHASE):]
        parent = parent.cpu_parent
    return None


def _module_parent(event: Any) -> Any:
    parent = event.cpu_parent
    while parent is not None and not parent.name.startswith(SCOPE):
        if parent.name.startswith(PHASE):
            return None
        parent = parent.cpu_parent
    return parent


TOTAL = "[total]"


def _count_flops(skeleton: nn.Module, run: Callable[[], object]) -> dict[str, int]:
    """Per-module FLOPs of ``run`` and, under ``[total]``, everything counted (also outside any module call)."""
    info, outside_root = static_info(skeleton, run)  # "backward" there = counted FLOPs not inside the root's forward
    out = {display_path(p): i.flops for p, i in info.items()}
    out[TOTAL] = out.get(ROOT_NAME, 0) + outside_root
    return out


# --------------------------------------------------------------------------- the run


def validate_phase_request(prompt_len: int, new_tokens: int, batch: int, warmup: int, active: int) -> None:
    checks = (("prompt length", prompt_len, 1, MAX_PROMPT), ("new tokens", new_tokens, 1, MAX_NEW_TOKENS),
              ("batch", batch, 1, 64), ("warm-up steps", warmup, 0, MAX_STEPS), ("active steps", active, 1, MAX_STEPS))
    for name, value, low, high in checks:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProfilingError(f"{name} must be a whole number, got {value!r}")
        if not low <= value <= high:
            raise ProfilingError(f"{name} must be between {low} and {high}, got {value}")


def profile_phases(
    gen: Generator,
    prompt_ids: torch.Tensor,
    new_tokens: int,
    *,
    warmup: int = 1,
    active: int = 3,
    attention_path: str = "fused",
    keep_trace: bool = False,
    on_wait: Callable[[str], None] | None = None,
    lock_timeout: float = 600.0,
) -> PhaseProfile:
    """Profile prefill of ``prompt_ids`` (B, T) then ``new_tokens`` greedy decode steps; see the module docstring."""
    if prompt_ids.dim() != 2:
        raise ProfilingError("the prompt must be a (batch, tokens) tensor of ids")
    batch, prompt_len = prompt_ids.shape
    validate_phase_request(int(prompt_len), new_tokens, int(batch), warmup, active)
    if attention_path not in ("fused", "eager"):
        raise ProfilingError(f"attention path must be fused or eager, got {attention_path!r}")
    eager = attention_path == "eager"
    try:
        return _profile_phases(gen, prompt_ids, new_tokens, warmup, active, eager, keep_trace, on_wait, lock_timeout, attention_path)
    except ValueError as exc:  # e.g. longer than the model's context
        if isinstance(exc, ProfilingError):
            raise
        raise ProfilingError(str(exc).splitlines()[0]) from None


def _profile_phases(
    gen: Generator, prompt_ids: torch.Tensor, new_tokens: int, warmup: int, active: int, eager: bool, keep_trace: bool,
    on_wait: Callable[[str], None] | None, lock_timeout: float, attention_path: str,
) -> PhaseProfile:
    batch, prompt_len = prompt_ids.shape
    skeleton = skeleton_copy(gen.model)
    skeleton.eval()
    method_paths = [name for _, name in gen.method_scopes]

    # Untimed FLOP passes, one per phase (hooks on the skeleton only, removed afterwards).
    prefill_step = gen.eager_prefill if eager and gen.eager_prefill is not None else gen.prefill
    decode_step = gen.eager_decode if eager and gen.eager_decode is not None else gen.decode
    with torch.no_grad():
        prefill_flops = _count_flops(skeleton, lambda: prefill_step(skeleton, prompt_ids, None))
        logits, cache = prefill_step(skeleton, prompt_ids, None)
        prefill_cache = tensor_bytes(cache)
        state = {"token": _last_token(logits), "cache": cache}

        def decode_all() -> None:
            for _ in range(new_tokens):
                out, state["cache"] = decode_step(skeleton, state["token"], state["cache"])
                state["token"] = _last_token(out)

        decode_flops = _count_flops(skeleton, decode_all)
        decode_cache = tensor_bytes(state["cache"])
    del cache, logits

    # Plain reference: the same steps without profiler or scopes (tokens per second come from here).
    plain: dict[str, list[float]] = defaultdict(list)
    for i in range(warmup + active):
        _run_phases(gen, skeleton, prompt_ids, new_tokens, eager, scoped=False, times=plain if i >= warmup else None)

    install_scopes(skeleton)
    install_method_scopes(skeleton, gen.method_scopes)
    with profiler_lock(on_wait, timeout=lock_timeout, what=f"{gen.name} prefill {prompt_len} + decode {new_tokens}"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prof = profile(activities=[ProfilerActivity.CPU], schedule=schedule(wait=0, warmup=warmup, active=active, repeat=1))
        prof.__enter__()
        try:
            for _ in range(warmup + active):
                _run_phases(gen, skeleton, prompt_ids, new_tokens, eager, scoped=True)
                prof.step()
        finally:
            prof.__exit__(None, None, None)
    events = prof.events()
    modules: dict[str, nn.Module | None] = {display_path(p): m for p, m in skeleton.named_modules()}
    for name in method_paths:
        modules.setdefault(name, None)
    modules = dict(sorted(modules.items(), key=lambda kv: _tree_key(kv[0])))
    tables = _parse_phases(events, modules, active, {"prefill": prefill_flops, "decode": decode_flops})
    chrome = _chrome_trace(prof) if keep_trace else None
    params = sum(p.numel() for p in gen.model.parameters())
    weight_bytes = tensor_bytes(list(gen.model.parameters()) + list(gen.model.buffers()))
    prefill_table = PhaseTable("prefill", tables["prefill"][0], tables["prefill"][1], plain["prefill"],
                               int(batch * prompt_len), prefill_flops[TOTAL], prefill_cache)
    decode_table = PhaseTable("decode", tables["decode"][0], tables["decode"][1], plain["decode"],
                              int(batch * new_tokens), decode_flops[TOTAL], decode_cache)
    return PhaseProfile(
        name=gen.name, batch=int(batch), prompt_len=int(prompt_len), new_tokens=new_tokens, attention_path=attention_path,
        prefill=prefill_table, decode=decode_table, active_steps=active, params=params, weight_bytes=weight_bytes,
        chrome_trace_gz=chrome,
    )


def _tree_key(path: str) -> tuple[Any, ...]:
    """Tree order: the root first, then parents before children, numbered children in numeric order."""
    if path == ROOT_NAME:
        return ((0, ""),)
    return tuple((1, int(part)) if part.isdigit() else (2, part) for part in path.split("."))


def install_method_scopes(model: nn.Module, scopes: Sequence[tuple[str, str]]) -> None:
    """Wrap methods of the (private) skeleton in ``module::<name>`` ranges, as instance attributes."""
    for dotted, name in scopes:
        owner_path, _, method = dotted.rpartition(".")
        owner = model.get_submodule(owner_path) if owner_path else model
        original = getattr(owner, method)
        label = SCOPE + name

        def wrapper(*args: Any, _original: Callable[..., Any] = original, _label: str = label, **kwargs: Any) -> Any:
            with _Scope(_label):
                return _original(*args, **kwargs)

        setattr(owner, method, wrapper)


def _parse_phases(
    events: Any, modules: dict[str, nn.Module | None], active: int, flops: dict[str, dict[str, int]]
) -> dict[str, tuple[list[PhaseRow], float]]:
    total: dict[str, dict[str, float]] = {p: defaultdict(float) for p in PHASES}
    child: dict[str, dict[str, float]] = {p: defaultdict(float) for p in PHASES}
    calls: dict[str, dict[str, int]] = {p: defaultdict(int) for p in PHASES}
    parents: dict[str, dict[str, str | None]] = {p: {} for p in PHASES}
    phase_times: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if e.name.startswith(PHASE):
            phase_times[e.name[len(PHASE):]].append(e.cpu_time_total)
            continue
        if not e.name.startswith(SCOPE):
            continue
        phase = _phase_of(e)
        if phase not in total:
            continue
        path = e.name[len(SCOPE):]
        total[phase][path] += e.cpu_time_total
        calls[phase][path] += 1
        parent = _module_parent(e)
        parents[phase].setdefault(path, None if parent is None else parent.name[len(SCOPE):])
        if parent is not None:
            child[phase][parent.name[len(SCOPE):]] += e.cpu_time_total
    out: dict[str, tuple[list[PhaseRow], float]] = {}
    n = max(1, active)
    for phase in PHASES:
        # mean, like the module totals, so shares of one step add up (the plain timing gives the median)
        phase_us = statistics.fmean(phase_times[phase]) if phase_times[phase] else 0.0
        rows = []
        for path, module in modules.items():
            if path not in total[phase]:
                continue
            t = total[phase][path] / n
            rows.append(
                PhaseRow(
                    path=path, depth=0 if path == ROOT_NAME else path.count(".") + 1,
                    kind=type(module).__name__ if module is not None else "method",
                    category=module_category(path, module), calls=calls[phase][path] / n, total_us=t,
                    self_us=max(0.0, t - child[phase][path] / n), share=t / phase_us if phase_us > 0 else 0.0,
                    flops=int(flops[phase].get(path, 0)), parent=parents[phase].get(path),
                )
            )
        _set_tree_depths(rows)
        out[phase] = (rows, phase_us)
    return out


def _set_tree_depths(rows: list[PhaseRow]) -> None:
    """Depth in the call tree (root 0), so containers that are never called leave no gaps in the indentation."""
    by_path = {r.path: r for r in rows}
    depth: dict[str, int] = {}

    def tree_depth(row: PhaseRow) -> int:
        if row.path not in depth:
            parent = by_path.get(row.parent) if row.parent is not None else None
            depth[row.path] = 0 if parent is None and row.path == ROOT_NAME else (1 if parent is None else tree_depth(parent) + 1)
        return depth[row.path]

    for r in rows:
        r.depth = tree_depth(r)


def _chrome_trace(prof: profile) -> bytes | None:
    tmp = Path(tempfile.mkdtemp(prefix="explorer-phases-"))
    try:
        path = tmp / "trace.json"
        prof.export_chrome_trace(str(path))
        return gzip.compress(mark_module_ranges(path.read_bytes()), compresslevel=6)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prompt_sweep(
    gen: Generator, lengths: Sequence[int], *, new_tokens: int = 1, warmup: int = 1, active: int = 3, seed: int = 0,
) -> list[tuple[int, dict[str, float], float]]:
    """Prefill at each prompt length: (length, category shares, prefill tokens per second)."""
    out = []
    generator = torch.Generator().manual_seed(seed)
    for length in lengths:
        ids = torch.randint(0, gen.vocab_size, (1, int(length)), generator=generator)
        result = profile_phases(gen, ids, new_tokens, warmup=warmup, active=active)
        out.append((int(length), result.prefill.category_shares(), result.prefill.tokens_per_s))
    return out


# --------------------------------------------------------------------------- adapters


def tiny_generator(model: Any = None) -> Generator:
    """The two phases of :class:`explorer.profiling.tiny_lm.TinyLM` (tests and a no-download fallback)."""
    from explorer.profiling.tiny_lm import build_tiny_lm

    model = model or build_tiny_lm()

    def prefill(m: nn.Module, ids: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        return m(ids)

    def decode(m: nn.Module, ids: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        return m(ids, cache)

    def eager_prefill(m: nn.Module, ids: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        return m(ids, None, True)

    def eager_decode(m: nn.Module, ids: torch.Tensor, cache: Any) -> tuple[torch.Tensor, Any]:
        return m(ids, cache, True)

    return Generator("tiny-lm", model, prefill, decode, model.cfg.vocab_size, eager_prefill, eager_decode)


def lm_generator(model: Any, name: str = "smollm2-135m") -> Generator:
    """The two phases of :class:`explorer.models.lm.LanguageModel` with its ``KVCache``.

    The prefill asks for the last position's logits only (``last_only``), as generation does:
    the unembedding is the biggest matrix of a small LLM and the other T - 1 rows are never used.
    """

    def prefill(m: Any, ids: torch.Tensor, cache: Any, eager: bool = False) -> tuple[torch.Tensor, Any]:
        cache = m.new_cache()
        return m(ids, cache, return_attention=eager, last_only=True).logits, cache

    def decode(m: nn.Module, ids: torch.Tensor, cache: Any, eager: bool = False) -> tuple[torch.Tensor, Any]:
        return m(ids, cache, return_attention=eager, last_only=True).logits, cache

    return Generator(
        name, model, prefill, decode, int(model.config.vocab_size),
        eager_prefill=lambda m, i, c: prefill(m, i, c, True), eager_decode=lambda m, i, c: decode(m, i, c, True),
        method_scopes=(("unembed", "unembed"),),
    )


def marian_generator(model: Any, name: str = "marian-en-pt") -> Generator:
    """The two phases of :class:`explorer.models.marian.MarianModel`: the prefill encodes the source,
    projects every decoder layer's cross-attention keys and values once and runs the first target
    step; each decode step is one ``step`` with the SSRU state and the cached cross K/V."""

    def prefill(m: Any, ids: torch.Tensor, cache: Any, eager: bool = False) -> tuple[torch.Tensor, Any]:
        memory, _ = m.encode(ids, return_attention=eager)
        state = m.start_state(memory)
        logits, state, _ = m.step(None, state, eager)
        return logits, state

    def decode(m: Any, ids: torch.Tensor, cache: Any, eager: bool = False) -> tuple[torch.Tensor, Any]:
        logits, state, _ = m.step(ids[:, 0], cache, eager)
        return logits, state

    scopes = [("encode", "encoder"), ("start_state", "cross_kv")]
    scopes += [(f"decoder_layers.{i}._cached_cross", f"decoder_layers.{i}.cross_attn") for i in range(len(model.decoder_layers))]
    return Generator(
        name, model, prefill, decode, int(model.config.vocab_size),
        eager_prefill=lambda m, i, c: prefill(m, i, c, True), eager_decode=lambda m, i, c: decode(m, i, c, True),
        method_scopes=tuple(scopes),
    )


GENERATORS = ("smollm2-135m", "marian-en-pt", "marian-pt-en", "tiny-lm")
PARAGRAPH = (
    "The animal didn't cross the street because it was too tired. A transformer reads every word of a sentence at "
    "once and lets each word look at the others; the weights of that looking are the attention. When a model writes "
    "text it works in two phases: first it reads the whole prompt, then it adds one token at a time, keeping the "
    "keys and values of everything it has already read in a cache so that it never reads them twice. "
)


def generator_for(name: str) -> tuple[Generator, Any]:
    """The named model's two-phase adapter and its tokenizer (None for the tiny LM); one-line errors."""
    if name == "tiny-lm":
        return tiny_generator(), None
    if name not in GENERATORS:
        raise ProfilingError(f"model must be one of {', '.join(GENERATORS)}, got {name!r}")
    from explorer.pretrained import load_pretrained
    from explorer.readers import ModelUnavailable

    try:
        pre = load_pretrained(name)
    except ModelUnavailable as exc:
        raise ProfilingError(str(exc).splitlines()[0]) from None
    if pre.kind == "lm":
        return lm_generator(pre.model, name), pre.tokenizer
    return marian_generator(pre.model, name), pre.tokenizer


def prompt_ids(gen: Generator, tokenizer: Any, length: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """A real English prompt of exactly ``length`` tokens (the paragraph repeated), or seeded random ids without a tokenizer."""
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= MAX_PROMPT:
        raise ProfilingError(f"prompt length must be between 1 and {MAX_PROMPT}, got {length!r}")
    if tokenizer is None:
        ids = torch.randint(0, gen.vocab_size, (batch, length), generator=torch.Generator().manual_seed(seed))
        return ids
    base = list(tokenizer.encode(PARAGRAPH))
    repeated = (base * (length // max(1, len(base)) + 1))[:length]
    return torch.tensor([repeated] * batch, dtype=torch.long)
