"""The shapes OOD threshold: chosen from measured rates, and the page's notices quote them."""

from __future__ import annotations

import json

import pytest

from explorer import CHECKPOINT_DIR
from explorer.analysis.ood_report import QUANTILES
from explorer.training.shapes import OOD_QUANTILE
from explorer.views.vit_sources import Verdict, notices

META = json.loads((CHECKPOINT_DIR / "shapes.json").read_text())
CLASSES = META["classes"]


def test_the_shipped_threshold_is_the_chosen_quantile_of_the_measured_table() -> None:
    ood = META["ood"]
    table = {row["quantile"]: row for row in ood["evaluation"]["quantiles"]}
    assert sorted(table) == sorted(QUANTILES) and ood["quantile"] == OOD_QUANTILE
    chosen = table[OOD_QUANTILE]
    assert chosen["threshold"] == pytest.approx(ood["threshold"], rel=1e-3)
    assert chosen["in_distribution_flagged"] == ood["evaluation"]["in_distribution_flagged"]
    # the reason for the choice, as measured: far fewer false alarms than at 95%, photos and other-dataset images still caught
    assert chosen["in_distribution_flagged"] < table[0.95]["in_distribution_flagged"] / 2
    assert chosen["photos_flagged"] >= 0.9 and chosen["fashion_flagged"] >= 0.95


def test_a_flagged_sample_is_called_a_false_alarm_with_the_measured_rates() -> None:
    flagged = Verdict(False, 150.0, 100.0)
    kinds = notices(flagged, META, "Sample", "shapes", CLASSES, True)
    assert [k for k, _ in kinds] == ["info"]
    text = kinds[0][1]
    rate = META["ood"]["evaluation"]["in_distribution_flagged"]
    assert "false alarm" in text and "1.5x" in text and f"{rate:.1%} of in-distribution images" in text
    upload = notices(flagged, META, "Upload", "shapes", CLASSES, True)
    assert upload[0][0] == "warning" and "unlike anything the model was trained on" in upload[0][1]
    assert notices(Verdict(True, 50.0, 100.0), META, "Upload", "shapes", CLASSES, True) == []
    assert notices(Verdict(None, None, None), META, "Photo", "shapes-untrained", CLASSES, False)[-1][1].startswith("Untrained")
