"""The date generator: every format means the date it is labelled with, and spans point at the fields."""

from __future__ import annotations

import random
from datetime import date

import pytest

from explorer.tasks import dates as D


@pytest.mark.parametrize("fmt", D.FORMATS)
def test_canonical_example_of_each_format(fmt: str) -> None:
    ex = D.render(date(2026, 11, 26), fmt)
    assert ex.text == D.FORMAT_INFO[fmt][0]
    assert ex.iso == "2026-11-26"
    assert D.parse_check(ex.text, ex.iso)
    assert D.spans_check(ex)


@pytest.mark.parametrize("fmt", D.FORMATS)
def test_every_format_parses_back_with_noise(fmt: str) -> None:
    examples = D.generate_examples(300, seed=7, formats=[fmt])
    assert {ex.format for ex in examples} == {fmt}
    for ex in examples:
        assert D.parse_check(ex.text, ex.iso), (ex.text, ex.iso)
        assert D.spans_check(ex), (ex.text, ex.spans)
        assert D.YEAR_MIN <= int(ex.iso[:4]) <= D.YEAR_MAX


def test_spans_cover_exactly_the_fields() -> None:
    ex = D.render(date(2026, 11, 26), "weekday_the_dth_of_month_y")
    text = ex.text  # "Thursday, the 26th of November, 2026"
    assert text[slice(*ex.spans["day"])] == "26th"
    assert text[slice(*ex.spans["month"])] == "November"
    assert text[slice(*ex.spans["year"])] == "2026"
    ex = D.render(date(2026, 3, 5), "mm/dd/yyyy")
    assert ex.text == "3/5/2026"
    assert (ex.spans["month"], ex.spans["day"], ex.spans["year"]) == ((0, 1), (2, 3), (4, 8))


def test_noise_keeps_spans_aligned() -> None:
    rng = random.Random(3)
    seen_odd = False
    for _ in range(500):
        ex = D.render(D.random_date(rng), rng.choice(D.FORMATS), rng)
        assert D.spans_check(ex), (ex.text, ex.spans)
        seen_odd |= "  " in ex.text or ex.text != ex.text.strip() or ex.text.isupper()
    assert seen_odd, "the noise (spacing, case) never showed up"


def test_generate_is_seeded_and_covers_all_formats() -> None:
    a = D.generate(200, seed=11)
    assert a == D.generate(200, seed=11)
    assert a != D.generate(200, seed=12)
    assert all(isinstance(t, str) and isinstance(iso, str) for t, iso in a)
    assert {ex.format for ex in D.generate_examples(len(D.FORMATS), seed=1)} == set(D.FORMATS)


def test_train_and_heldout_splits_are_disjoint() -> None:
    train = {iso for _, iso in D.generate(2000, seed=1, split="train")}
    held = {iso for _, iso in D.generate(500, seed=2, split="heldout")}
    assert train and held and not train & held
    assert all(D.is_heldout(date.fromisoformat(iso)) for iso in held)


@pytest.mark.parametrize(
    "text, iso",
    [
        ("26 Nov 2026", "2026-11-26"),
        ("  THURSDAY   26 november 2026 ", "2026-11-26"),
        ("Thu, Nov 26,2026", "2026-11-26"),
        ("11/26/2026", "2026-11-26"),  # slash + year last = US month/day
        ("26.11.2026", "2026-11-26"),
        ("1st of March 1950", "1950-03-01"),
        ("20261126", "2026-11-26"),
    ],
)
def test_reference_parser(text: str, iso: str) -> None:
    assert D.parse(text).isoformat() == iso


@pytest.mark.parametrize("text", ["Friday 26 November 2026", "26st of November 2026", "26/11/2026", "hello", "31 Feb 2026"])
def test_reference_parser_rejects_wrong_dates(text: str) -> None:
    assert not D.parse_check(text, "2026-11-26")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="unknown date format"):
        D.generate(3, seed=0, formats=["dd/mm/yy"])
    with pytest.raises(ValueError, match="split"):
        D.generate(3, seed=0, split="test")
    with pytest.raises(ValueError, match="outside"):
        D.render(date(1900, 1, 1), "d_mon_y")


def test_ordinals() -> None:
    assert [D.ordinal(d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"
    ]
