"""The labelled verification sets (LFW View 2, calib/), face selection, cached templates and the metrics.

Shared by bench/bench_lfw.py (every embedder and face_recognition on LFW and calib) and
bench/calibrate.py (thresholds, scales and ROC tables from calib/). Templates are cached per
(alignment source, embedder) under ``--cache`` (default /tmp/rec-cache) as .npz files of vectors by
relative image path, so a re-run only embeds what is new.

Face choice, the same for every contender: the largest detected face whose box holds the image centre
(LFW photos are centred on their subject), else the largest face. An image without a face has no
template; every pair touching one counts as a non-match (a genuine pair is then an error at any
threshold), which is what a user of the engine would get.
"""

from __future__ import annotations

import hashlib
import inspect
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures"
LFW = SHARED / "lfw"
CALIB = SHARED / "calib"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclass(frozen=True)
class Pair:
    fold: int          # 1..10
    a: str             # path relative to the set's root
    b: str
    same: bool


def lfw_pairs(root: Path = LFW) -> list[Pair]:
    """The 6,000 pairs of LFW View 2 (pairs.txt), fold by fold."""
    lines = (root / "pairs.txt").read_text().split("\n")
    folds, per = (int(v) for v in lines[0].split())
    out: list[Pair] = []
    rows = [ln.split("\t") for ln in lines[1:] if ln.strip()]
    for k in range(folds):
        for i, row in enumerate(rows[k * 2 * per:(k + 1) * 2 * per]):
            if i < per:
                name, a, b = row
                out.append(Pair(k + 1, f"{name}/{name}_{int(a):04d}.jpg", f"{name}/{name}_{int(b):04d}.jpg", True))
            else:
                na, a, nb, b = row
                out.append(Pair(k + 1, f"{na}/{na}_{int(a):04d}.jpg", f"{nb}/{nb}_{int(b):04d}.jpg", False))
    return out


def calib_images(root: Path = CALIB) -> list[tuple[str, str]]:
    """(identity, relative path) of every identity photo of calib/ (the group photos left out)."""
    return [(p.parent.name, str(p.relative_to(root))) for p in sorted(root.glob("*/*"))
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and p.parent.name != "_groups"]


def calib_pairs(images: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Every genuine and every impostor pair of calib's identity photos."""
    gen, imp = [], []
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            (gen if images[i][0] == images[j][0] else imp).append((images[i][1], images[j][1]))
    return gen, imp


#: How the face of a photo is chosen. ``largest``: the largest box holding the image centre, else the
#: largest (calib/'s photos: portraits, the subject the biggest face). ``centred``: the box whose centre
#: is nearest the image centre (LFW's images are cut around the named person's face, "the face roughly
#: centred" (fixtures/lfw/README); the largest-holding-centre rule took a larger neighbour there).
FACE_RULES = ("largest", "centred")


def choose_face(boxes: list[tuple[float, float, float, float]], width: int, height: int,
                rule: str = "largest") -> int | None:
    """Index of the face to use (x0, y0, x1, y1 boxes) under ``rule`` (:data:`FACE_RULES`)."""
    if not boxes:
        return None
    cx, cy = width / 2, height / 2
    area = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
    if rule == "centred":
        return min(range(len(boxes)), key=lambda i: (((boxes[i][0] + boxes[i][2]) / 2 - cx) ** 2
                                                      + ((boxes[i][1] + boxes[i][3]) / 2 - cy) ** 2, -area[i]))
    inside = [i for i, b in enumerate(boxes) if b[0] <= cx <= b[2] and b[1] <= cy <= b[3]]
    pool = inside or list(range(len(boxes)))
    return max(pool, key=lambda i: area[i])


# ------------------------------------------------------------------------------------------------
# visage: alignment points from the default pipeline, then each embedder on them


class VisageFaces:
    """The fast pipeline's detection and landmark stages, cached: one FacePoints per image (or None)."""

    def __init__(self, pipe, cache: Path) -> None:
        self.pipe = pipe
        # Keyed by what decides the points, not the embedder: the detector and landmark models, the source of
        # the pipeline's and the detector's modules (the points rule, the detection size policy, the trust
        # gate) and their settings. (Before, only face_points and the model names: a detection policy
        # change left the key, and so the cached points, as they were.)
        models = [m for m in pipe.models() if m not in pipe.embedder.model_names]
        # The pipeline's and detector's code and settings decide the points too (a policy change re-detects).
        detector = getattr(pipe, "detector", None)
        modules = {type(pipe).__module__} | ({type(detector).__module__} if detector is not None else set())
        src = "".join(inspect.getsource(sys.modules[m]) for m in sorted(modules)) + ",".join(models)
        src += repr(getattr(pipe, "config", "")) + repr(getattr(detector, "policy", ""))
        self.tag = hashlib.sha256(src.encode()).hexdigest()[:10]
        self.cache = cache / f"points-{self.tag}"
        self.cache.mkdir(parents=True, exist_ok=True)
        self.detect_ms: list[float] = []

    def cache_for(self, rule: str = "largest") -> Path:
        """The folder of the points (and the templates made on them) under a face rule."""
        return self.cache if rule == "largest" else self.cache.with_name(f"{self.cache.name}-{rule}")

    def points(self, root: Path, rel: list[str], rule: str = "largest") -> dict[str, object]:
        """FacePoints of the face ``rule`` chooses in every image (None: no face); cached as (points5, mesh)."""
        from visage.analysis.embedders.align import FacePoints
        from visage.imaging.decode import load_image

        folder = self.cache_for(rule)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{root.name}.pkl"
        known: dict[str, object] = pickle.loads(path.read_bytes()) if path.is_file() else {}
        todo = [r for r in rel if r not in known]
        for n, r in enumerate(todo, 1):
            t0 = time.perf_counter()
            image = load_image((root / r).read_bytes()).rgb
            faces_mesh = self.pipe.landmarks(image, self.pipe.detect(image))
            self.detect_ms.append((time.perf_counter() - t0) * 1000)
            boxes = [tuple(float(v) for v in face_box(self.pipe, d, m)) for d, m in faces_mesh]
            i = choose_face(boxes, image.shape[1], image.shape[0], rule)
            if i is None:
                known[r] = None
            else:
                fp = self.pipe.face_points([faces_mesh[i]])[0]
                known[r] = (np.asarray(fp.points5, np.float32), None if fp.mesh is None else np.asarray(fp.mesh))
            if n % 500 == 0:
                path.write_bytes(pickle.dumps(known))
                print(f"  points {root.name}: {n}/{len(todo)}", flush=True)
        if todo:
            path.write_bytes(pickle.dumps(known))
        return {r: None if known[r] is None else FacePoints(points5=known[r][0], mesh=known[r][1]) for r in rel}


def face_box(pipe, det, mesh) -> np.ndarray:
    """A kept face's box (x0, y0, x1, y1): the pipeline's own rule where it has one, else the mesh bounds."""
    if hasattr(pipe, "face_box"):
        return pipe.face_box(det, mesh)
    p = mesh.points
    return np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()], np.float32)


def embed_cached(embedder, root: Path, points: dict[str, object], cache: Path,
                 timings: list[tuple[float, float]]) -> dict[str, np.ndarray | None]:
    """Unit templates of ``embedder`` for every image with a face (cached by image path); appends
    (wall ms, process CPU ms) per embedded face to ``timings`` (CPU time reads the same on a loaded
    machine; wall time on 2 threads is about half of it when the machine is otherwise idle)."""
    from visage.imaging.decode import load_image

    parts = getattr(embedder, "parts", None)
    if parts:  # a fused embedder is its parts' unit vectors concatenated: reuse their caches
        part_timings: list[list[tuple[float, float]]] = [[] for _ in parts]
        vecs = [embed_cached(p, root, points, cache, t) for p, t in zip(parts, part_timings, strict=True)]
        # A fused face's time is its parts' times summed; where a part's cache held faces the other's did not
        # (one part cached, the other partial), the parts timed different faces and no sum is made.
        if len({len(t) for t in part_timings}) == 1:
            timings += [(sum(w for w, _ in ts), sum(c for _, c in ts)) for ts in zip(*part_timings, strict=True)]
        return {r: (None if any(v[r] is None for v in vecs) else
                    (np.concatenate([v[r] for v in vecs]) / np.sqrt(len(vecs))).astype(np.float32)) for r in points}
    spec = getattr(embedder, "spec", None)
    if spec is not None and spec.flip and embedder.name.endswith("-flip"):
        return _flip_from_twin(embedder, root, points, cache, timings)
    path = cache / f"{root.name}-{embedder.name}.npz"
    known: dict[str, np.ndarray] = dict(np.load(path)) if path.is_file() else {}
    todo = [r for r, p in points.items() if p is not None and r not in known]
    for n, r in enumerate(todo, 1):
        image = load_image((root / r).read_bytes()).rgb
        t0, c0 = time.perf_counter(), time.process_time()
        known[r] = embedder.embed(image, [points[r]])[0].vector
        timings.append(((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000))
        if n % 250 == 0:
            np.savez(path, **known)
    if todo:
        np.savez(path, **known)
    return {r: (known.get(r) if points[r] is not None else None) for r in points}


def _flip_from_twin(embedder, root: Path, points: dict[str, object], cache: Path,
                    timings: list[tuple[float, float]]) -> dict[str, np.ndarray | None]:
    """A flip-averaged embedder from its plain twin's cached vectors plus the mirrored crops' vectors
    (what ``ArcFaceEmbedder.vectors`` computes in one batch): the model runs once more per face, not twice."""
    from dataclasses import replace

    from visage.analysis.embedders.arcface import ArcFaceEmbedder
    from visage.imaging.decode import load_image

    twin_name = embedder.name[: -len("-flip")]
    plain_timings: list[tuple[float, float]] = []
    plain = ArcFaceEmbedder.__new__(ArcFaceEmbedder)  # the same session, without the flip
    plain.__dict__.update(embedder.__dict__)
    plain.name, plain.spec = twin_name, replace(embedder.spec, flip=False)
    base = embed_cached(plain, root, points, cache, plain_timings)
    path = cache / f"{root.name}-{twin_name}-mirror.npz"
    known: dict[str, np.ndarray] = dict(np.load(path)) if path.is_file() else {}
    todo = [r for r, p in points.items() if p is not None and r not in known]
    mirror_timings = []
    for n, r in enumerate(todo, 1):
        image = load_image((root / r).read_bytes()).rgb
        t0, c0 = time.perf_counter(), time.process_time()
        known[r] = plain.vectors(plain.crops(image, [points[r]])[:, :, ::-1].copy())[0]
        mirror_timings.append(((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000))
        if n % 250 == 0:
            np.savez(path, **known)
    if todo:
        np.savez(path, **known)
    if plain_timings and mirror_timings:
        timings += [(a[0] + b[0], a[1] + b[1]) for a, b in zip(plain_timings, mirror_timings, strict=False)]
    out: dict[str, np.ndarray | None] = {}
    for r in points:
        if base[r] is None:
            out[r] = None
            continue
        m = known[r] / np.linalg.norm(known[r])
        v = base[r] / np.linalg.norm(base[r]) + m
        out[r] = (v / np.linalg.norm(v)).astype(np.float32)
    return out


def time_embedder(embedder, root: Path, points: dict[str, object], sample: list[str]) -> tuple[float, float]:
    """Median (wall ms, process CPU ms) of one face's embed on a fixed sample of images (never cached)."""
    from visage.imaging.decode import load_image

    images = [(load_image((root / r).read_bytes()).rgb, points[r]) for r in sample if points.get(r) is not None]
    embedder.embed(images[0][0], [images[0][1]])  # warm-up
    wall, cpu = [], []
    for image, p in images:
        t0, c0 = time.perf_counter(), time.process_time()
        embedder.embed(image, [p])
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return float(np.median(wall)), float(np.median(cpu))


# ------------------------------------------------------------------------------------------------
# metrics


def pair_scores(templates: dict[str, np.ndarray | None], pairs: list[tuple[str, str]],
                score=None) -> np.ndarray:
    """Score of every pair (cosine by default); -inf where either image has no template."""
    out = np.full(len(pairs), -np.inf)
    for k, (a, b) in enumerate(pairs):
        ta, tb = templates.get(a), templates.get(b)
        if ta is not None and tb is not None:
            out[k] = float(np.dot(ta, tb)) if score is None else score(ta, tb)
    return out


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold (midpoint between neighbouring scores) with the highest accuracy on these pairs."""
    finite = np.sort(np.unique(scores[np.isfinite(scores)]))
    cands = np.concatenate([[finite[0] - 1e-6], (finite[1:] + finite[:-1]) / 2, [finite[-1] + 1e-6]])
    order = np.argsort(scores)
    s, y = scores[order], same[order]
    # accuracy at threshold t: genuine with score >= t plus impostors with score < t
    idx = np.searchsorted(s, cands, side="left")
    gen_below = np.concatenate([[0], np.cumsum(y)])[idx]
    imp_below = np.concatenate([[0], np.cumsum(~y)])[idx]
    acc = (y.sum() - gen_below) + imp_below
    return float(cands[int(np.argmax(acc))])


def tenfold(scores: np.ndarray, same: np.ndarray, folds: np.ndarray) -> tuple[float, float, list[float]]:
    """LFW protocol: per fold, the threshold of best accuracy on the other nine; mean and sd of the ten."""
    accs = []
    for k in np.unique(folds):
        test = folds == k
        t = best_threshold(scores[~test], same[~test])
        accs.append(float(((scores[test] >= t) == same[test]).mean()))
    return float(np.mean(accs)), float(np.std(accs)), accs


def accuracy_at(scores: np.ndarray, same: np.ndarray, threshold: float) -> float:
    return float(((scores >= threshold) == same).mean())


def threshold_at_far(impostor: np.ndarray, far: float) -> float:
    """The lowest threshold whose false-accept rate on these impostor scores is at most ``far``."""
    imp = np.sort(impostor[np.isfinite(impostor)])[::-1]
    k = int(np.floor(far * len(impostor)))  # this many impostors may score at or above the threshold
    if k >= len(imp):
        return float(imp[-1])
    return float(np.nextafter(imp[k], np.inf))


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> tuple[float, float]:
    """(TAR, threshold) at false-accept rate ``far`` of the impostor scores."""
    t = threshold_at_far(impostor, far)
    return float((genuine >= t).mean()), t
