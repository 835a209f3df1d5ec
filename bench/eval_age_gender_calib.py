"""Age and gender outside UTKFace: FaceRes-Deep (the default) against face-api's AgeGenderNet on calib/ (LFW
news photos of 60 public figures, plus Wikimedia Commons photos of five), same run, no constant tuned here
(gender at 0.5; each model's shipped age line).

    PYTHONPATH=src python bench/eval_age_gender_calib.py [--json bench/results/eval_age_gender_calib.json]

Also eval/beard (400 CelebA men): the share each model calls male. Labels, written down by the
developer from public knowledge of the people the folders name: gender
(``FEMALE`` below; everyone else is a man; every face is an adult) and, for the LFW photos of the 51 people
whose birth year is well known (``BORN``), age = 2003 - birth year: LFW's photos are news photos of about
2002-2004, so each age label is good to about +-1.5 years (both models are scored on the same labels). The
subject is the largest face of each photo (calib/_groups skipped). Caveat: face-api's training data (IMDB,
Wiki, CACD...) holds celebrity photos, so some of these people (not necessarily these photos) may have been
seen in training.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_attributes import EVAL, FIXTURES, other_models, read_rgb
from visage.analysis.fast_pipeline import FastPipeline
from visage.analysis.pipeline import AnalyzeOptions
from visage.config import Settings

FEMALE = frozenset({
    "Calista_Flockhart", "Cameron_Diaz", "Carmen_Electra", "Carolina_Moraes", "Christine_Gregoire",
    "Christine_Todd_Whitman", "Clara_Harris", "Cristina_Fernandez", "Gloria_Trevi", "Janet_Napolitano",
    "Mariangel_Ruiz_Torrealba", "Naomi_Watts", "Norah_Jones", "Rachel_Hunter", "Venus_Williams",
})
PHOTO_YEAR = 2003
BORN = {
    "Albert_Costa": 1975, "Bill_Gates": 1955, "Billy_Graham": 1918, "Bob_Hope": 1903, "Calista_Flockhart": 1964,
    "Cameron_Diaz": 1972, "Carmen_Electra": 1972, "Christine_Gregoire": 1947, "Christine_Todd_Whitman": 1946,
    "Cristina_Fernandez": 1953, "Daniel_Radcliffe": 1989, "Dominique_de_Villepin": 1953, "Dwayne_Johnson": 1972,
    "Elton_John": 1947, "Gloria_Trevi": 1968, "Guillermo_Coria": 1982, "Hu_Jintao": 1942, "Jackie_Chan": 1954,
    "Janet_Napolitano": 1957, "Jason_Kidd": 1973, "John_Bolton": 1948, "John_McCain": 1936, "John_Reilly": 1965,
    "Juan_Pablo_Montoya": 1975, "Keanu_Reeves": 1964, "Lance_Armstrong": 1971, "Leonardo_DiCaprio": 1974,
    "Lucio_Gutierrez": 1957, "Naomi_Watts": 1968, "Narendra_Modi": 1950, "Nelson_Mandela": 1918,
    "Norah_Jones": 1979, "Prince_William": 1982, "Rachel_Hunter": 1969, "Richard_Virenque": 1969,
    "Rick_Carlisle": 1959, "Roger_Moore": 1927, "Ruben_Studdard": 1978, "Rupert_Murdoch": 1931,
    "Silvio_Berlusconi": 1936, "Tim_Duncan": 1976, "Tim_Henman": 1974, "Tom_Watson": 1949, "Venus_Williams": 1980,
    "Francis_George": 1937, "John_Snow": 1939, "Binyamin_Ben-Eliezer": 1936, "Felipe_Perez_Roque": 1965,
    "Hilmi_Ozkok": 1940, "Christian_Fittipaldi": 1971, "Jefferson_Perez": 1974,
}


def _faceapi(rgb: np.ndarray, mesh: np.ndarray) -> tuple[float, float]:
    """face-api's age (its shipped line) and male probability on the same face."""
    from visage.analysis.attributes import age_from_regression

    ages, males = other_models().faceapi_age_gender(rgb, [mesh])
    return age_from_regression(ages[0])["value"], float(males[0])


def celeba_men() -> dict:
    """eval/beard is 400 CelebA men (beard or not): the share each model calls male."""
    pipe = FastPipeline.from_settings(Settings())
    faceres, faceapi = [], []
    for p in sorted((EVAL / "beard").rglob("*.jpg")):
        rgb = read_rgb(p)
        r = pipe.analyze(rgb, AnalyzeOptions(attributes="gender", pose=False))
        if r.faces:
            faceres.append(r.faces[0].attributes["gender"]["value"] == "male")
            faceapi.append(_faceapi(rgb, r.faces[0].landmarks.points)[1] >= 0.5)
    n = len(faceres)
    return {"faces_found": n, "faceres_deep (default)_called_male": f"{sum(faceres)}/{n}",
            "faceapi_called_male": f"{sum(faceapi)}/{n}"}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    calib = FIXTURES / "calib"
    if not calib.is_dir():
        print(f"no calib fixtures at {calib}", file=sys.stderr)
        return 2
    pipe = FastPipeline.from_settings(Settings())
    with (calib / "manifest.csv").open(newline="") as fh:
        lfw = {r["file"] for r in csv.DictReader(fh) if r["note"] == "LFW"}
    rows = []
    for p in sorted(calib.glob("*/*")):
        if p.parent.name == "_groups" or p.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        rgb = read_rgb(p)
        r = pipe.analyze(rgb, AnalyzeOptions(attributes="age,gender", pose=False))
        if not r.faces:
            rows.append({"path": str(p.relative_to(FIXTURES)), "found": False})
            continue
        f = r.faces[0]
        g = f.attributes["gender"]
        p_male = g["probability"] if g["value"] == "male" else 1 - g["probability"]
        fa_age, fa_male = _faceapi(rgb, f.landmarks.points)
        who = p.parent.name
        known = who in BORN and str(p.relative_to(calib)) in lfw
        rows.append({"path": str(p.relative_to(FIXTURES)), "found": True, "identity": who,
                     "male": who not in FEMALE, "faceres_male": p_male, "faceapi_male": fa_male,
                     "age": PHOTO_YEAR - BORN[who] if known else None, "faceres_age": f.attributes["age"]["value"],
                     "faceapi_age": fa_age})
    found = [x for x in rows if x["found"]]
    y = np.array([x["male"] for x in found])
    out: dict[str, object] = {"faces_found": f"{len(found)}/{len(rows)}",
                              "photos_women": int((~y).sum()), "photos_men": int(y.sum())}
    for x in found:  # the mean of both models (same protocol as bench/eval_attributes.py's)
        x["mean_male"] = (x["faceapi_male"] + x["faceres_male"]) / 2
        x["mean_age"] = (x["faceapi_age"] + x["faceres_age"]) / 2
    for key, name in (("faceres_male", "faceres_deep (default)"), ("faceapi_male", "faceapi"),
                      ("mean_male", "mean_of_both")):
        pred = np.array([x[key] for x in found]) >= 0.5
        ok = pred == y
        out[name] = {"accuracy": round(float(ok.mean()), 4), "women_right": f"{int(ok[~y].sum())}/{int((~y).sum())}",
                     "men_right": f"{int(ok[y].sum())}/{int(y.sum())}",
                     "wrong": [x["path"] for x, good in zip(found, ok, strict=True) if not good]}
    aged = [x for x in found if x["age"] is not None]
    truth = np.array([x["age"] for x in aged], float)
    people = len({x["identity"] for x in aged})
    out["age_photos"] = f"{len(aged)} LFW photos of {people} people, ages {int(truth.min())}-{int(truth.max())}"
    for key, name in (("faceres_age", "faceres_deep (default)"), ("faceapi_age", "faceapi"),
                      ("mean_age", "mean_of_both")):
        err = np.array([x[key] for x in aged]) - truth
        out[name].update({"age_mae": round(float(np.abs(err).mean()), 2), "age_mean_error": round(float(err.mean()), 2),
                          "age_mae_per_person_mean": round(float(np.mean([
                              np.abs(err[[x["identity"] == who for x in aged]]).mean()
                              for who in sorted({x["identity"] for x in aged})])), 2)})
    if EVAL.is_dir():
        out["celeba_men_eval_beard"] = celeba_men()
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
