"""Attributes on real labelled photos (../shared/fixtures/eval, test halves): floors well under the
figures bench/eval_attributes.py measures on the whole sets (docs/attributes.md), so a broken crop,
channel order or threshold fails here while sampling noise on a few dozen photos does not."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from visage.analysis.fast_pipeline import FastPipeline
from visage.analysis.pipeline import AnalyzeOptions
from visage.config import Settings

pytestmark = pytest.mark.slow

EVAL = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "eval"


def _test_half(folder: Path, n: int) -> list[Path]:
    files = [p for p in sorted(folder.glob("*.jpg"))
             if hashlib.sha1(str(p.relative_to(EVAL)).encode()).digest()[0] & 1]
    return files[:n]


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="module")
def pipe():
    if not EVAL.is_dir():
        pytest.skip("eval fixtures not found")
    return FastPipeline.from_settings(Settings())


def _values(pipe, folder: Path, n: int, name: str) -> list[dict]:
    out = []
    for p in _test_half(folder, n):
        r = pipe.analyze(_rgb(p), AnalyzeOptions(attributes=name, pose=False))
        if r.faces:
            out.append(r.faces[0].attributes[name])
    assert len(out) >= 0.9 * n, (folder, len(out))
    return out


def _balanced(pos: list[bool], neg: list[bool]) -> float:
    return 0.5 * (np.mean(pos) + 1.0 - np.mean(neg))


def test_closed_and_open_eyes(pipe) -> None:
    closed = [v["value"] for v in _values(pipe, EVAL / "eyes" / "closed", 25, "eyes_open")]
    opened = [v["value"] for v in _values(pipe, EVAL / "eyes" / "open", 25, "eyes_open")]
    assert _balanced(opened, closed) >= 0.85, (sum(closed), sum(opened))


def test_eyeglasses_vs_none(pipe) -> None:
    on = [v["value"] != "none" for v in _values(pipe, EVAL / "glasses" / "eyeglasses", 25, "glasses")]
    off = [v["value"] != "none" for v in _values(pipe, EVAL / "glasses" / "none", 25, "glasses")]
    assert _balanced(on, off) >= 0.7, (sum(on), sum(off))


def test_glasses_the_bridge_line_v3_missed(pipe) -> None:
    # Test-half photos glasses v3 (one strip on mesh 168, down to 0.10 below the eye line; sun only
    # from flat dark eyes) read "none": a tortoise-shell frame light in its middle, a low black bridge,
    # a thin metal frame on dark skin, and tinted sunglasses with reflections. A bare face stays bare.
    expect = {"eyeglasses/000444.jpg": "common", "eyeglasses/004296.jpg": "common",
              "eyeglasses/000482.jpg": "common", "eyeglasses/004421.jpg": "sun",
              "eyeglasses/004518.jpg": "sun", "none/003353.jpg": "none"}
    got = {}
    for name in expect:
        r = pipe.analyze(_rgb(EVAL / "glasses" / name), AnalyzeOptions(attributes="glasses", pose=False))
        got[name] = r.faces[0].attributes["glasses"]["value"] if r.faces else None
    assert got == expect


def test_beard_better_than_chance(pipe) -> None:
    on = [v["value"] for v in _values(pipe, EVAL / "beard" / "beard", 25, "beard")]
    off = [v["value"] for v in _values(pipe, EVAL / "beard" / "no_beard", 25, "beard")]
    assert _balanced(on, off) >= 0.55, (sum(on), sum(off))


def test_spoofs_caught_and_live_faces_passed(pipe) -> None:
    live = [v["value"] == "real" for v in _values(pipe, EVAL / "antispoof" / "live", 20, "liveness")]
    spoof = [v["value"] == "real" for v in _values(pipe, EVAL / "antispoof" / "spoof", 22, "liveness")[:20]]
    assert np.mean(live) >= 0.75 and 1.0 - np.mean(spoof) >= 0.8, (sum(live), sum(spoof))


def test_adult_gender_and_age(pipe) -> None:
    files = [p for p in _test_half(EVAL / "age_gender", 400) if int(p.name.split("_")[0]) >= 18][:40]
    right, errors = 0, []
    for p in files:
        age, gender = p.name.split("_")[:2]
        r = pipe.analyze(_rgb(p), AnalyzeOptions(attributes="age,gender", pose=False))
        if not r.faces:
            continue
        a = r.faces[0].attributes
        right += a["gender"]["value"] == ("male" if gender == "0" else "female")
        errors.append(abs(a["age"]["value"] - int(age)))
        assert a["age"]["low"] <= a["age"]["value"] <= a["age"]["high"]
    assert right >= 0.75 * len(files) and float(np.mean(errors)) <= 12.0, (right, len(files), np.mean(errors))


def test_masks_in_street_photos(pipe) -> None:
    import xml.etree.ElementTree as ET

    right = total = 0
    for ann in sorted((EVAL / "mask" / "annotations").glob("*.xml"))[:12]:
        image = _rgb(EVAL / "mask" / "images" / (ann.stem + ".jpg"))
        r = pipe.analyze(image, AnalyzeOptions(attributes="mask", pose=False))
        for obj in ET.parse(ann).getroot().iter("object"):
            bb = [float(obj.find("bndbox").find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")]
            for f in r.faces:
                cx, cy = f.box.left + f.box.width / 2, f.box.top + f.box.height / 2
                if bb[0] <= cx <= bb[2] and bb[1] <= cy <= bb[3]:
                    total += 1
                    right += f.attributes["mask"]["value"] == (obj.find("name").text != "sin_mascarilla")
                    break
    assert total >= 10 and right >= 0.65 * total, (right, total)


def test_masks_the_lower_face_cr_drop_v2_misjudged(pipe) -> None:
    # Test-half street photos where mask v2 (mouth + chin less red than the upper face, Cr drop >= 8)
    # got faces wrong: white and light masks on pale skin (210, 271, 362, 257) and a bare face (217)
    # it called masked. v3 reads the nose tip's Cr, a large mouth + chin Cr drop and the saturation drop.
    import json
    import xml.etree.ElementTree as ET

    labels = json.loads((EVAL / "mask" / "label_map.json").read_text())
    checked = 0
    for stem in ("210", "271", "362", "257", "217"):
        ann = EVAL / "mask" / "annotations" / f"maksssksksss{stem}.xml"
        r = pipe.analyze(_rgb(EVAL / "mask" / "images" / f"maksssksksss{stem}.jpg"), AnalyzeOptions(attributes="mask"))
        for obj in ET.parse(ann).getroot().iter("object"):
            bb = [float(obj.find("bndbox").find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")]
            masked = labels.get(obj.find("name").text, obj.find("name").text) != "without_mask"
            for f in r.faces:
                cx, cy = f.box.left + f.box.width / 2, f.box.top + f.box.height / 2
                if bb[0] <= cx <= bb[2] and bb[1] <= cy <= bb[3]:
                    assert f.attributes["mask"]["value"] is masked, (stem, bb, f.attributes["mask"])
                    checked += 1
                    break
    assert checked >= 14, checked

