"""FLOPs, parameters and shapes per module, counted in a separate, untimed pass.

Convention: one multiply-add is 2 FLOPs, as in ``torch.utils.flop_counter`` (a linear layer
with ``in`` inputs and ``out`` outputs costs 2 x in x out FLOPs per token; attention's two
matrix products cost 2 x 2 x T_q x T_k x d_head per head). Element-wise ops (softmax, norms,
activations) are not counted, which is the usual convention for matmul-dominated models.

We use ``FlopCounterMode`` for the counting (its formula registry and dispatch mode), but
attribute FLOPs to modules with our own stack maintained by hooks on the private copy:
``FlopCounterMode``'s own ``ModuleTracker`` installs *process-global* module hooks, which
would also fire for other sessions' models running on other threads.
CPU's fused attention kernel (``_scaled_dot_product_flash_attention_for_cpu``) is missing
from the registry in this PyTorch, so we add it: otherwise attention's T^2 work would be
invisible.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import torch
from torch import nn
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

ROOT = ""  # the model itself, shown as "(model)"
BACKWARD = "[backward]"  # backward pass: one row, not split by module

_aten = torch.ops.aten


def _cpu_sdpa_flops(query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any) -> int:
    return flop_counter.sdpa_flop_count(query, key, value)


def _cpu_sdpa_backward_flops(
    grad_out: Any, query: Any, key: Any, value: Any, *args: Any, out_shape: Any = None, **kwargs: Any
) -> int:
    return flop_counter.sdpa_backward_flop_count(grad_out, query, key, value)


EXTRA_FLOP_FORMULAS: dict[Any, Any] = {}
if hasattr(_aten, "_scaled_dot_product_flash_attention_for_cpu"):
    EXTRA_FLOP_FORMULAS[_aten._scaled_dot_product_flash_attention_for_cpu] = _cpu_sdpa_flops
if hasattr(_aten, "_scaled_dot_product_flash_attention_for_cpu_backward"):
    EXTRA_FLOP_FORMULAS[_aten._scaled_dot_product_flash_attention_for_cpu_backward] = _cpu_sdpa_backward_flops


class _PathTracker:
    """Stands in for ``FlopCounterMode``'s ``ModuleTracker``: ``parents`` is our own module stack."""

    def __init__(self) -> None:
        self.stack: list[str] = []

    @property
    def parents(self) -> set[str]:
        return {"Global", *self.stack}

    def __enter__(self) -> _PathTracker:
        return self

    def __exit__(self, *args: Any) -> None:
        return None


def describe_shapes(obj: Any, limit: int = 4) -> str:
    """Shapes of the tensors in a module's inputs or outputs, e.g. "(8, 64, 128), (8, 64, 128)"."""
    found: list[str] = []

    def visit(value: Any) -> None:
        if len(found) > limit:
            return
        if isinstance(value, torch.Tensor):
            found.append("(" + ", ".join(str(d) for d in value.shape) + ")")
        elif isinstance(value, (list, tuple)):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif is_dataclass(value) and not isinstance(value, type):
            for f in fields(value):
                visit(getattr(value, f.name))

    visit(obj)
    if len(found) > limit:
        found = found[:limit] + ["..."]
    return ", ".join(found)


@dataclass
class StaticInfo:
    """What one module is, independent of timing: kind, parameters, FLOPs and shapes per step."""

    path: str
    kind: str
    params: int
    flops: int = 0
    calls: int = 0
    input_shapes: str = ""
    output_shapes: str = ""
    flops_by_op: dict[str, int] = field(default_factory=dict)


@contextmanager
def _tracking_hooks(model: nn.Module, tracker: _PathTracker, info: dict[str, StaticInfo]) -> Iterator[None]:
    """Hooks on the *private* model: push/pop the module path and record shapes of the first call."""
    handles = []
    owner = threading.get_ident()

    for path, module in model.named_modules():

        def pre(mod: nn.Module, args: Any, kwargs: Any, _path: str = path) -> None:
            if threading.get_ident() != owner:
                return
            tracker.stack.append(_path)
            entry = info[_path]
            entry.calls += 1
            if entry.calls == 1:
                entry.input_shapes = describe_shapes((args, kwargs))

        def post(mod: nn.Module, args: Any, kwargs: Any, output: Any, _path: str = path) -> None:
            if threading.get_ident() != owner:
                return
            if tracker.stack and tracker.stack[-1] == _path:
                tracker.stack.pop()
            entry = info[_path]
            if not entry.output_shapes:
                entry.output_shapes = describe_shapes(output)

        handles.append(module.register_forward_pre_hook(pre, with_kwargs=True))
        handles.append(module.register_forward_hook(post, with_kwargs=True))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def static_info(model: nn.Module, run_step: Any) -> tuple[dict[str, StaticInfo], int]:
    """Run one step under ``FlopCounterMode`` with module tracking; return per-module info and backward FLOPs.

    ``run_step()`` runs one forward (and backward in train mode) of the private ``model``.
    Module FLOPs are inclusive (a layer's FLOPs include its sub-layers').
    """
    info: dict[str, StaticInfo] = {}
    for path, module in model.named_modules():
        params = sum(p.numel() for p in module.parameters())
        info[path] = StaticInfo(path=path, kind=type(module).__name__, params=params)
    tracker = _PathTracker()
    counter = FlopCounterMode(display=False, custom_mapping=EXTRA_FLOP_FORMULAS)
    counter.mod_tracker = tracker  # type: ignore[assignment]  # see module docstring: no process-global hooks
    with _tracking_hooks(model, tracker, info), counter:
        run_step()
    counts = counter.get_flop_counts()
    for path, by_op in counts.items():
        if path in info:
            info[path].flops = int(sum(by_op.values()))
            info[path].flops_by_op = {str(op): int(n) for op, n in by_op.items()}
    total = int(sum(counts.get("Global", {}).values()))
    forward = info[ROOT].flops if ROOT in info else 0
    backward = max(0, total - forward)
    return info, backward


def linear_flops(in_features: int, out_features: int, tokens: int) -> int:
    """The convention in one formula: 2 x in x out per token (a multiply-add is 2 FLOPs); bias not counted."""
    return 2 * in_features * out_features * tokens
