"""Lesson files: checks with file-and-line messages, and reveals computed from the model (not typed in)."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.lessons.loader import LessonError, check_view, load_lessons, parse_lesson
from explorer.lessons.reveals import REGISTRY, run_reveal
from explorer.views.lessons import reveal_view
from explorer.zoo import load_model

GOOD_STEP = '''
[[steps]]
view = "transformer?tf_view=cross"
question = "How many bytes?"
guess = "number"
reveal = "kv_cache_per_token"
explain = "{mha_bytes} bytes, {mqa_bytes} with MQA."
'''


def _error(text: str) -> str:
    with pytest.raises(LessonError) as info:
        parse_lesson(text, "bad.toml", "bad")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_good_lesson_parses() -> None:
    lesson = parse_lesson('title = "T"\n' + GOOD_STEP, "ok.toml", "ok")
    assert lesson.steps[0].kind == "number" and lesson.steps[0].line == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('title = "T"\n[[steps]]\nview = "transformer\nquestion = "?"\n', "bad.toml, line 3: not valid TOML"),
        ('title = "T"\n', "bad.toml, line 1: no steps"),
        ('summary = "no title"\n' + GOOD_STEP, "bad.toml, line 1: missing title"),
        ('title = "T"\n' + GOOD_STEP.replace("transformer?tf_view=cross", "nowhere"), "bad.toml, line 4: step 1: unknown view 'nowhere'"),
        ('title = "T"\n' + GOOD_STEP.replace("tf_view=cross", "tf_nonsense=1"), "line 4: step 1: the transformer page has no parameter 'tf_nonsense'"),
        ('title = "T"\n' + GOOD_STEP.replace("tf_view=cross", "vit_layer=1"), "does not belong to the transformer page"),
        ('title = "T"\n' + GOOD_STEP.replace("transformer?", "https://evil.example/?"), "not an outside link"),
        ('title = "T"\n' + GOOD_STEP.replace("kv_cache_per_token", "magic"), "line 7: step 1: unknown reveal function 'magic'"),
        ('title = "T"\n' + GOOD_STEP.replace("{mqa_bytes}", "{nope}"), "line 8: step 1: {nope} is not a value of kv_cache_per_token"),
        ('title = "T"\n' + GOOD_STEP.replace("{mqa_bytes}", "{mqa_bytes"), "line 8: step 1: explain has a broken {placeholder}"),
        ('title = "T"\n' + GOOD_STEP.replace('guess = "number"', 'choices = ["a", "b"]'), "line 6: step 1: kv_cache_per_token answers with a number"),
        ('title = "T"\n' + GOOD_STEP + 'args = { steps = 3 }\n', "line 9: step 1: kv_cache_per_token takes no argument 'steps'"),
        ('title = "T"\n' + GOOD_STEP + "tolerance = -1\n", "line 9: step 1: tolerance must be"),
        ('title = "T"\n' + GOOD_STEP + 'colour = "red"\n', "line 9: step 1: unknown key 'colour'"),
        ('title = "T"\n' + GOOD_STEP.replace('guess = "number"\n', ""), "line 3: step 1: a number question needs guess"),
    ],
)
def test_bad_lessons_name_file_and_line(text: str, expected: str) -> None:
    assert expected in _error(text)


def test_choices_must_cover_every_outcome() -> None:
    step = GOOD_STEP.replace("kv_cache_per_token", "masked_future_weight").replace('guess = "number"', 'choices = ["exactly 0", "lots"]')
    step = step.replace("{mha_bytes} bytes, {mqa_bytes} with MQA.", "{max_future_weight}")
    assert "missing 'small but not 0'" in _error('title = "T"\n' + step)


def test_wrong_argument_type() -> None:
    step = GOOD_STEP.replace("kv_cache_per_token", "no_cache_cost").replace("{mha_bytes} bytes, {mqa_bytes} with MQA.", "{ratio}")
    assert "argument 'steps' of no_cache_cost must be a int" in _error('title = "T"\n' + step + 'args = { steps = "ten" }\n')


def test_a_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    (tmp_path / "a-good.toml").write_text('title = "Good"\n' + GOOD_STEP)
    (tmp_path / "b-bad.toml").write_text('title = "Bad"\n[[steps]]\n')
    (tmp_path / "c-bytes.toml").write_bytes(b"\xff\xfe\x00")
    lessons, errors = load_lessons(tmp_path)
    assert list(lessons) == ["a-good"]
    assert errors[0].startswith("b-bad.toml, line 2:") and errors[1].startswith("c-bytes.toml, line 1:")


def test_check_view_accepts_shipped_pages() -> None:
    assert check_view("vit?vit_cls=star&vit_sample_seed=0") is None
    assert check_view("positional-encoding?pe_section=RoPE&seed=3") is None


def test_every_reveal_function_declares_its_values() -> None:
    for spec in REGISTRY.values():
        assert spec.kind in ("choice", "number")
        assert (spec.kind == "choice") == bool(spec.outcomes)


# ----------------------------------------------------------------------------- reveals follow the model
def _untrained(name: str):  # ZooModel
    return load_model(f"{name}-untrained")


@pytest.mark.parametrize(("reveal", "args"), [("masked_future_weight", {}), ("dates_accuracy", {"n_examples": 60})])
def test_reveal_changes_with_the_model(reveal: str, args: dict) -> None:
    trained = run_reveal(reveal, load_model, args)
    untrained = run_reveal(reveal, _untrained, args)
    if reveal == "masked_future_weight":
        assert trained.answer == untrained.answer == "exactly 0"  # the mask holds for any weights...
        assert trained.values["output"] != untrained.values["output"]  # ...but what the model writes does not
    else:
        assert trained.values["accuracy_percent"] > 90 > untrained.values["accuracy_percent"]


def test_vit_reveal_changes_with_the_model() -> None:
    trained = run_reveal("vit_position_similarity", load_model)
    untrained = run_reveal("vit_position_similarity", _untrained)
    assert trained.answer > 0.3 > abs(untrained.answer)  # random init: near-orthogonal rows


def test_architecture_reveals_follow_the_config() -> None:
    """A different model config (4 decoder layers) changes the KV-cache reveal: nothing is typed in."""
    from dataclasses import replace
    from types import SimpleNamespace

    entry = load_model("dates")
    bigger = SimpleNamespace(config=replace(entry.config, n_decoder_layers=4))
    assert run_reveal("kv_cache_per_token", lambda _: bigger).answer == 2 * run_reveal("kv_cache_per_token", load_model).answer


def test_reveal_view_verdicts() -> None:
    lesson = parse_lesson('title = "T"\n' + GOOD_STEP, "ok.toml", "ok")
    step = lesson.steps[0]
    reveal = run_reveal("kv_cache_per_token", load_model)
    near = reveal_view(step, reveal, float(reveal.answer) * 1.1)
    far = reveal_view(step, reveal, 1.0)
    assert near.right and not far.right
    assert near.explain == f"{reveal.values['mha_bytes']} bytes, {reveal.values['mqa_bytes']} with MQA."
