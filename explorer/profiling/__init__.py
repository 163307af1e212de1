"""Per-module profiling of the explorer's models with ``torch.profiler``.

Public API (the page, the CLI and notebooks use only these)::

    from explorer.profiling import build_request, profile_model, operator_table, module_table
    request = build_request("vit", batch_size=8, image_size=32, mode="forward", warmup=1, active=3)
    result = profile_model(request)                 # serialised by a process-wide lock
    module_table(result, max_depth=3)               # pandas DataFrame, one row per module
    operator_table(result, sort_by="self_cpu_us", limit=20, group_by_input_shape=False, top_level_only=False)
    diff_modules(baseline, result); diff_operators(baseline, result)
    scaling_sweep(request, sizes=[16, 32, 64, 128])  # time / memory vs tokens, fitted exponents
    result.chrome_trace_gz, result.tensorboard_zip  # exports (bytes)

Modules: :mod:`.request` (validated inputs, private model copy), :mod:`.estimate` (refuse
before running), :mod:`.flops` (untimed FLOP pass), :mod:`.lock` (one profiler per process),
:mod:`.runner` (the run and its parsing), :mod:`.tables`, :mod:`.scaling`, :mod:`.cli`.
"""

from explorer.profiling.cli import add_cli_arguments, run_cli
from explorer.profiling.estimate import Estimate, check_budget, estimate, format_bytes
from explorer.profiling.flops import linear_flops
from explorer.profiling.lock import ProfilerBusyError, is_locked, lock_status, profiler_enabled, profiler_lock
from explorer.profiling.request import (
    MODE_LABELS,
    MODELS,
    MODES,
    ProfileRequest,
    ProfilingError,
    build_request,
    small_config,
    with_size,
    zoo_available,
)
from explorer.profiling.runner import ModuleRow, ProfileResult, profile_model
from explorer.profiling.scaling import ScalingResult, default_sizes, fit_exponent, parse_sizes, scaling_sweep
from explorer.profiling.tables import (
    SORT_KEYS,
    diff_modules,
    diff_operators,
    module_table,
    operator_table,
    result_summary,
    to_json,
)

__all__ = [
    "MODELS", "MODES", "MODE_LABELS", "SORT_KEYS", "Estimate", "ModuleRow", "ProfileRequest", "ProfileResult",
    "ProfilerBusyError", "ProfilingError", "ScalingResult", "add_cli_arguments", "build_request", "check_budget",
    "default_sizes", "diff_modules", "diff_operators", "estimate", "fit_exponent", "format_bytes", "is_locked",
    "linear_flops", "lock_status", "module_table", "operator_table", "parse_sizes", "profile_model", "profiler_enabled",
    "profiler_lock", "result_summary", "run_cli", "scaling_sweep", "small_config", "to_json", "with_size",
    "zoo_available",
]
