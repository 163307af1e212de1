"""The shipped lab table: one command's output, every variant with the same budget, numbers consistent with the code."""

from __future__ import annotations

import pytest

from explorer.lab.costs import count_params
from explorer.lab.switches import apply_switches, lab_base_config, trained_variants, variant_name
from explorer.lab.table import TABLE_PATH, Budget, build_table, read_table

TABLE = read_table()
needs_table = pytest.mark.skipif(TABLE is None, reason="lab_table.json not generated yet: python -m explorer lab-train")


@needs_table
def test_table_has_every_variant_with_the_default_budget() -> None:
    assert TABLE is not None
    assert [row["name"] for row in TABLE["variants"]] == [variant_name(v) for v in trained_variants()]
    assert TABLE["budget"] == Budget().__dict__
    assert TABLE["base_config"] == lab_base_config().to_dict()


@needs_table
def test_rows_agree_with_the_closed_forms_and_are_sane() -> None:
    assert TABLE is not None
    for row in TABLE["variants"]:
        assert row["params"] == count_params(apply_switches(lab_base_config(), row["switches"]))
        assert 0.0 <= row["min_format_accuracy"] <= row["heldout_accuracy"] <= 1.0
        assert row["heldout_loss"] > 0 and 0.0 <= row["alignment"] <= 1.0
        steps = [point[0] for point in row["loss_curve"]]
        assert steps[-1] == TABLE["budget"]["steps"] and steps == sorted(steps)
        assert row["loss_curve"][-1][1] < row["loss_curve"][0][1] / 5  # every variant learned something


def test_a_tiny_budget_runs_end_to_end() -> None:
    table = build_table(Budget(steps=2, warmup=0, heldout_size=17, alignment_size=17, curve_every=1), ((), ("mqa",)))
    assert [row["name"] for row in table["variants"]] == ["original", "mqa"]
    assert len(table["variants"][1]["loss_curve"]) == 2
    assert TABLE_PATH.name == "lab_table.json"


def test_budget_validation() -> None:
    with pytest.raises(ValueError, match="warmup"):
        Budget(steps=10, warmup=10).validate()
    with pytest.raises(ValueError, match="steps must be at least 1"):
        Budget(steps=0, warmup=0).validate()


def test_cli_refusals_exit_non_zero(capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.cli import main

    assert main(["lab-train", "--only", "turbo"]) == 2
    assert main(["lab-train", "--steps", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: unknown switch 'turbo'; choose from pre_ln, swiglu, parallel, mqa, rope, tied, no_bias",
                   "error: steps must be at least 1"]
