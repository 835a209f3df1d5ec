"""The mask decision's cues (visage.analysis.occluders v3) on feature values: no models, no photos."""

from __future__ import annotations

from visage.analysis import occluders

BARE = {"nose_cr_drop": 0.0, "lower_cr_drop": 2.0, "lower_sat_ratio": 0.9, "upper_sat": 80.0}


def test_each_cue_alone_masks_at_its_threshold() -> None:
    assert occluders.mask_score(BARE) < 0.5
    for key, value in (("nose_cr_drop", occluders.MASK_NOSE_CR_DROP), ("lower_cr_drop", occluders.MASK_LOWER_CR_DROP),
                       ("lower_sat_ratio", occluders.MASK_SAT_RATIO)):
        f = {**BARE, key: value}
        assert occluders.mask_score(f) >= 0.5, key
        assert occluders.mask_value(f)["value"] is True


def test_a_grey_photo_is_not_masked_by_its_missing_saturation() -> None:
    # Grey-scale: the upper skin has no saturation, so the lower face's is no evidence of a mask.
    grey = {**BARE, "upper_sat": 0.0, "lower_sat_ratio": 0.0}
    assert occluders.mask_cues(grey)["saturation"] == 0.0
    assert occluders.mask_value(grey)["value"] is False
