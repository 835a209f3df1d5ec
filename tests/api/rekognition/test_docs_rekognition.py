"""docs/rekognition.md must describe what the code serves."""

from __future__ import annotations

import re
from pathlib import Path

from visage.analysis.quality_filter import LEVELS
from visage.api.dialects.rekognition.mapping import LANDMARK_SCHEMES
from visage.api.dialects.rekognition.routes import OPERATIONS

DOC = (Path(__file__).resolve().parents[3] / "docs" / "rekognition.md").read_text()


def test_every_operation_is_documented() -> None:
    missing = [op for op in OPERATIONS if f"\n| `{op}` |" not in DOC]
    assert not missing, f"operations missing from the table in docs/rekognition.md: {missing}"


def test_landmark_table_matches_the_mapping() -> None:
    table = LANDMARK_SCHEMES["dlib68"]
    for name, idx in table.items():
        cell = re.search(rf"\| `{name}` \| ([0-9, \-]+)", DOC)
        assert cell, f"{name} missing from the landmark table"
        text = cell.group(1).strip()
        if "-" in text:
            lo, hi = (int(v) for v in text.split("-"))
            shown = tuple(range(lo, hi + 1))
        else:
            shown = tuple(int(v) for v in text.split(","))
        assert shown == idx, name


def test_quality_table_matches_the_levels() -> None:
    for level in ("LOW", "MEDIUM", "HIGH"):
        bar = LEVELS[level]
        row = re.search(rf"\| `{level}`[^|]*\|(.*)\|\s*$", DOC, flags=re.M).group(1)
        cells = [c.strip().rstrip("°") for c in row.split("|")]
        expected = [bar.min_confidence, bar.min_box_side, bar.max_abs_yaw, bar.max_abs_pitch, bar.min_brightness,
                    bar.min_sharpness, bar.min_integrity, bar.min_occlusion_total]
        assert [float(c) for c in cells] == [float(v) for v in expected], level
