"""``python -m explorer profile``: --trace writes a Chrome trace with module ranges; generation models print
per-phase tables in table/csv/json; paths are never cut; bad input is one line and a non-zero exit."""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
import sys

import pytest

from explorer.profiling import add_cli_arguments, run_cli


def _run(argv, capsys):
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    code = run_cli(parser.parse_args(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


TINY = ["--d-model", "32", "--heads", "2", "--layers", "1", "--d-ff", "64", "--batch", "2", "--seq-len", "16", "--warmup", "0", "--active", "1"]
TINY_LM = ["--model", "tiny-lm", "--seq-len", "12", "--new-tokens", "3", "--warmup", "0", "--active", "1"]


def test_trace_option_writes_a_chrome_trace_with_module_ranges(tmp_path, capsys):
    out = tmp_path / "out.json"
    code, stdout, _ = _run([*TINY, "--trace", str(out)], capsys)
    assert code == 0 and "encoder.layers.0.self_attn" in stdout
    names = {e.get("name") for e in json.loads(out.read_text())["traceEvents"]}
    assert "module::encoder.layers.0.self_attn" in names and "module::decoder.layers.0.cross_attn" in names


def test_table_prints_full_module_paths_and_honest_statements(capsys):
    code, stdout, _ = _run([*TINY, "--depth", "6"], capsys)
    assert code == 0
    assert "decoder.layers.0.cross_attn.out_proj" in stdout  # the longest path, whole
    assert "weights excluded on both sides" in stdout and "Profiler overhead" in stdout


def test_generation_json_has_both_phases(tmp_path, capsys):
    trace = tmp_path / "phases.json"
    code, stdout, _ = _run([*TINY_LM, "--format", "json", "--trace", str(trace)], capsys)
    assert code == 0
    payload = json.loads(stdout)
    assert set(payload) == {"prefill", "decode"}
    assert payload["prefill"]["summary"]["prompt_tokens"] == 12 and payload["decode"]["summary"]["new_tokens"] == 3
    assert payload["decode"]["summary"]["tokens_per_s"] > 0 and payload["decode"]["summary"]["kv_cache_bytes"] > 0
    assert any(m["path"] == "layers.0.self_attn" for m in payload["decode"]["modules"])
    names = {e.get("name") for e in json.loads(trace.read_text())["traceEvents"]}
    assert {"phase::prefill", "phase::decode", "module::layers.1.self_attn"} <= names


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_generation_csv_and_table_for_one_phase(phase, capsys):
    code, stdout, _ = _run([*TINY_LM, "--phase", phase, "--format", "csv"], capsys)
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert code == 0 and rows and {r["phase"] for r in rows} == {phase}
    code, stdout, _ = _run([*TINY_LM, "--phase", phase], capsys)
    assert code == 0 and f"tiny-lm: {phase}" in stdout and "tokens/s" in stdout and "layers.1.mlp.linear2" in stdout


@pytest.mark.parametrize(
    "argv,needle",
    [
        ([*TINY_LM[:-4], "--new-tokens", "0"], "new tokens"),
        (["--model", "tiny-lm", "--seq-len", "0"], "prompt length"),
        (["--model", "tiny-lm", "--seq-len", "5000"], "prompt length"),
        (["--model", "tiny-lm", "--seq-len", "600", "--new-tokens", "1"], "longer than"),
        ([*TINY, "--trace", "/nonexistent-dir/x.json"], "cannot write the trace"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, needle, capsys):
    code, stdout, stderr = _run(argv, capsys)
    assert code == 2 and needle in stderr and stderr.count("\n") == 1 and "Traceback" not in stderr


@pytest.mark.slow
def test_smollm2_through_python_dash_m_explorer():
    from explorer.pretrained import pretrained_status

    status = pretrained_status("smollm2-135m")
    if status is not None:
        pytest.skip(status)
    proc = subprocess.run(
        [sys.executable, "-m", "explorer", "profile", "--model", "smollm2-135m", "--phase", "prefill", "--seq-len", "16",
         "--new-tokens", "2", "--warmup", "0", "--active", "1", "--format", "json"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["prefill"]["summary"]
    assert summary["prompt_tokens"] == 16 and summary["category_shares"]["attention"] > 0
