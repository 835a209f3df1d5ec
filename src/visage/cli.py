"""The ``visage`` command: serve, detect, verify, embed, models."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from visage.config import Settings
from visage.errors import VisageError


def _engine(args: argparse.Namespace):
    from visage.engine import Engine

    return Engine(_settings(args))


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {k: v for k, v in {"pipeline": getattr(args, "pipeline", None)}.items() if v}
    return Settings(**overrides)


def _read(path: str) -> bytes:
    return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from visage.api.app import create_app

    settings = _settings(args)
    host, port = args.host or settings.host, args.port if args.port is not None else settings.port
    uvicorn.run(create_app(settings), host=host, port=port, log_level=args.log_level, access_log=False)
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from visage.analysis.pipeline import AnalyzeOptions
    from visage.api.native.routes import analysis_json

    engine = _engine(args)
    results: dict[str, Any] = {}
    for path in args.images:
        result = engine.analyze(_read(path), AnalyzeOptions(landmarks=not args.no_landmarks, pose=True))
        results[path] = analysis_json(result, engine.pipeline.models())
        if not args.json:
            print(f"{path}: {len(result.faces)} face(s) in {result.width}x{result.height}")
            for face in result.faces:
                b, p = face.box, face.pose
                pose = f" yaw={p.yaw:+.1f} pitch={p.pitch:+.1f} roll={p.roll:+.1f}" if p else ""
                print(f"  box=({b.left:.0f},{b.top:.0f},{b.width:.0f}x{b.height:.0f}) conf={face.confidence:.3f}{pose}")
    if args.json:
        print(json.dumps(results[args.images[0]] if len(args.images) == 1 else results))
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    engine = _engine(args)
    out = {}
    for path in args.images:
        result = engine.embed(_read(path))
        out[path] = [{"box": f.box.to_dict(), "template": f.template.to_dict()} for f in result.faces if f.template]
        if not args.json:
            print(f"{path}: {len(out[path])} template(s) of {engine.embedder_model}")
    if args.json:
        print(json.dumps(out[args.images[0]] if len(args.images) == 1 else out))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    engine = _engine(args)
    match = engine.verify(_read(args.a), _read(args.b), args.threshold)
    row = {"similarity": match.similarity, "match": match.match, "threshold": match.threshold,
           "model": match.model, "cosine": match.cosine}
    if args.json:
        print(json.dumps(row))
    else:
        print(f"similarity={match.similarity:.4f} match={str(match.match).lower()} "
              f"threshold={match.threshold} model={match.model}")
    return 0 if match.match else 1


def cmd_models(args: argparse.Namespace) -> int:
    from visage.models.fetch import ensure_models, model_status
    from visage.models.registry import MODELS

    settings = Settings()
    if args.action == "pull":
        names = args.names or list(MODELS)
        unknown = [n for n in names if n not in MODELS]
        if unknown:
            raise VisageError(f"unknown model(s): {', '.join(unknown)}; see `visage models list`")
        for name, path in ensure_models([MODELS[n] for n in names], settings.models_dir).items():
            print(f"{name}: {path}")
        return 0
    rows = model_status(settings.models_dir)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            mark = "cached " if row["cached"] else "missing"
            print(f"{mark} {row['name']:<28} {row['role']:<11} {row['source']}  commercial_use={row['commercial_use']}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from visage.config import reference_markdown

    print(reference_markdown(), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visage", description="Self-hosted face analysis server, library and CLI")
    parser.add_argument("--pipeline", help="model pipeline (default from VISAGE_PIPELINE or 'dlib')")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the HTTP server")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("detect", help="detect faces, landmarks and head pose")
    p.add_argument("images", nargs="+", help="image files ('-' for stdin)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-landmarks", action="store_true")
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("embed", help="face templates of every face")
    p.add_argument("images", nargs="+")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser("verify", help="1:1 verification of the largest face of two images (exit 1: no match)")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--threshold", type=float)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("models", help="fetch or list models")
    p.add_argument("action", choices=["pull", "list"])
    p.add_argument("names", nargs="*")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("config", help="print the configuration reference (markdown)")
    p.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except VisageError as exc:
        print(f"visage: error [{exc.code}]: {exc.message}", file=sys.stderr)
        return 2
    except FileNotFoundError as exc:
        print(f"visage: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
