"""The ``visage`` command: serve, detect, verify, embed, models."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from visage.analysis.pipeline import PIPELINES
from visage.config import Settings
from visage.errors import VisageError

if TYPE_CHECKING:
    from visage.remote import RemoteCollections
    from visage.store import TemplateStore


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

    from visage import logs
    from visage.api.app import create_app

    settings = _settings(args)
    host, port = args.host or settings.host, args.port if args.port is not None else settings.port
    log_config = logs.configure(args.log_level)
    from visage.api.timeouts import guarded_httptools
    from visage.remote import client_url

    app = create_app(settings)
    app.state.visage.advertise_url = client_url(host, port)  # `visage index` beside it finds it from the store
    app.state.visage.freeze_heap_when_ready = True
    uvicorn.run(app, host=host, port=port, log_level=args.log_level, access_log=False,
                log_config=log_config, http=guarded_httptools(settings.header_timeout_s),
                limit_concurrency=settings.max_connections)
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from visage.analysis.pipeline import AnalyzeOptions
    from visage.api.native.routes import analysis_json

    engine = _engine(args)
    results: dict[str, Any] = {}
    for path in args.images:
        options = AnalyzeOptions(landmarks=not args.no_landmarks, pose=True, attributes=args.attributes or "")
        result = engine.analyze(_read(path), options)
        results[path] = analysis_json(result, engine.pipeline.models())
        if not args.json:
            print(f"{path}: {len(result.faces)} face(s) in {result.width}x{result.height}")
            for face in result.faces:
                b, p = face.box, face.pose
                pose = f" yaw={p.yaw:+.1f} pitch={p.pitch:+.1f} roll={p.roll:+.1f}" if p else ""
                print(f"  box=({b.left:.0f},{b.top:.0f},{b.width:.0f}x{b.height:.0f}) conf={face.confidence:.3f}{pose}")
                if face.attributes:
                    print(f"    attributes: {json.dumps(face.attributes)}")
            if result.unsupported:
                print(f"  unsupported: {', '.join(result.unsupported)}")
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


def _store(args: argparse.Namespace):
    from visage.store import open_store

    return open_store(args.store or _settings(args).resolved_store_url())


def _api_key(args: argparse.Namespace) -> str | None:
    """--api-key, else $VISAGE_API_KEY, else an admin key of this machine's VISAGE_API_KEYS (same env)."""
    import os

    from visage.api.keys import parse_keys

    if getattr(args, "api_key", None):
        return args.api_key
    if os.environ.get("VISAGE_API_KEY"):
        return os.environ["VISAGE_API_KEY"]
    keys = parse_keys(_settings(args).api_keys or "")
    admins = [k for k, role in keys.items() if role == "admin"]
    return (admins or list(keys) or [None])[0]


def _store_or_server(args: argparse.Namespace):
    """``(store, None)`` to work on the store directly, or ``(None, RemoteCollections)`` to go through a server.

    ``--server URL`` always goes through that server. Otherwise the store is opened; when a running
    ``visage serve`` holds it (an SQLite file has one owner), the server it advertises is used instead.
    """
    from visage.remote import RemoteCollections, advertised_url
    from visage.store.base import StoreLockedError

    if getattr(args, "server", None):
        return None, RemoteCollections(args.server, _api_key(args))
    try:
        return _store(args), None
    except StoreLockedError as exc:
        path = Path(str(exc.details.get("path", "")))
        url = advertised_url(path) if path.name else None
        if url is None:
            raise StoreLockedError(
                f"{path} is held by another process (one process owns an SQLite store). If it is a running"
                " `visage serve`, run this command through it: add --server http://127.0.0.1:8000 (its address;"
                " --api-key KEY when it has keys); or stop that process; or use PostgreSQL (VISAGE_STORE_URL) to"
                " share a store.") from None
        print(f"visage: {path.name} is held by the server at {url}; working through its API", file=sys.stderr)
        return None, RemoteCollections(url, _api_key(args))


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"}
#: Errors that stop a remote bulk run (every further image would fail the same way).
_FATAL_REMOTE = {"server_unreachable", "http_error", "unauthorized", "forbidden", "not_found", "model_unavailable",
                 "store_locked", "store_unavailable", "template_model_mismatch"}


def cmd_index(args: argparse.Namespace) -> int:
    """Bulk enrolment: every image under DIR; external image id = path relative to DIR."""
    root = Path(args.directory)
    if not root.is_dir():
        raise FileNotFoundError(f"no such directory: {root}")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    store, server = _store_or_server(args)
    try:
        return _index_all(args, root, paths, store, server)
    finally:
        if store is not None:
            store.close()


def _index_all(args: argparse.Namespace, root: Path, paths: list[Path], store: TemplateStore | None,
               server: RemoteCollections | None) -> int:
    """Index ``paths`` into the store directly, or through a server, with one progress bar either way."""
    from tqdm import tqdm

    from visage.errors import AlreadyExistsError

    if store is not None:
        from visage.collections import CollectionService

        service = CollectionService(_engine(args), store)
        create = service.create_collection

        def face_count(cid: str) -> int:
            return service.describe_collection(cid).face_count

        def index(data: bytes, external_id: str) -> tuple[int, int]:
            result = service.index_faces(args.collection, data, external_image_id=external_id,
                                         max_faces=args.max_faces, quality_filter=args.quality_filter)
            return len(result.indexed), len(result.unindexed)
    else:
        create = server.create_collection

        def face_count(cid: str) -> int:
            return int(server.describe_collection(cid)["face_count"])

        def index(data: bytes, external_id: str) -> tuple[int, int]:
            result = server.index_faces(args.collection, data, external_image_id=external_id,
                                        max_faces=args.max_faces, quality_filter=args.quality_filter)
            return len(result["indexed"]), len(result["unindexed"])
    try:
        create(args.collection)
    except VisageError as exc:  # AlreadyExistsError locally, its code through a server
        if exc.code != AlreadyExistsError.code:
            raise
    indexed = skipped = failed = 0
    for path in tqdm(paths, desc=f"indexing into {args.collection}", unit="img", disable=args.quiet):
        try:
            added, left = index(path.read_bytes(), str(path.relative_to(root)))
        except VisageError as exc:
            if server is not None and exc.code in _FATAL_REMOTE:
                raise
            failed += 1
            tqdm.write(f"{path}: {exc.code}: {exc.message}", file=sys.stderr)
            continue
        indexed += added
        skipped += left
    print(f"{len(paths)} images: {indexed} faces indexed, {skipped} not indexed, {failed} images failed; "
          f"collection {args.collection} holds {face_count(args.collection)} faces")
    return 0 if failed == 0 else 1


def cmd_collections(args: argparse.Namespace) -> int:
    store, server = _store_or_server(args)
    try:
        if server is not None:
            return _collections_remote(args, server)
        return _collections_local(args, store)
    finally:
        if store is not None:
            store.close()


def _collections_local(args: argparse.Namespace, store: TemplateStore) -> int:
    from visage.api.native.collections import collection_json, match_json

    if args.action == "search":
        from visage.collections import CollectionService

        service = CollectionService(_engine(args), store)
        _, results = service.search_by_image(args.collection, _read(args.image), max_faces=args.max_faces,
                                             threshold=args.threshold, all_faces=args.all_faces)
        rows = [{"box": r.face.box.to_dict(), "matches": [match_json(m) for m in r.matches]} for r in results]
        print(json.dumps(rows, indent=2))
    elif args.action == "list":
        token, ids = None, []
        while True:
            page, token = store.list_collections(1000, token)
            ids += page
            if not token:
                break
        # One line per collection: id, the embedder its templates come from (index and search use it),
        # its template model and face count.
        for cid in ids:
            info = store.describe_collection(cid)
            print(f"{cid}\t{collection_json(info)['embedder'] or '-'}\t{info.model}\t{info.face_count} faces")
    elif args.action == "create":
        engine = _engine(args)
        print(json.dumps(collection_json(store.create_collection(args.collection, engine.embedder_model,
                                                                 engine.embedder_dim))))
    elif args.action == "describe":
        print(json.dumps(collection_json(store.describe_collection(args.collection))))
    elif args.action == "delete":
        store.delete_collection(args.collection)
    elif args.action == "export":
        with (open(args.file, "w") if args.file != "-" else sys.stdout) as fp:
            count = store.export_collection(args.collection, fp)
        print(f"exported {count} faces", file=sys.stderr)
    elif args.action == "import":
        from visage.collections import import_collection

        with open(args.file, encoding="utf-8") as fp:
            info = import_collection(store, fp, args.collection)
        print(json.dumps(collection_json(info)))
    return 0


def _collections_remote(args: argparse.Namespace, server: RemoteCollections) -> int:
    """The same commands and output through a running server's native API."""
    if args.action == "search":
        out = server.search_by_image(args.collection, _read(args.image), max_faces=args.max_faces,
                                     threshold=args.threshold, all_faces=args.all_faces)
        rows = [{"box": r["box"], "matches": r["matches"]} for r in out["results"]]
        print(json.dumps(rows, indent=2))
    elif args.action == "list":
        print("\n".join(server.list_collections()))
    elif args.action == "create":
        print(json.dumps(server.create_collection(args.collection)))
    elif args.action == "describe":
        print(json.dumps(server.describe_collection(args.collection)))
    elif args.action == "delete":
        server.delete_collection(args.collection)
    elif args.action == "export":
        data = server.export_collection(args.collection)
        if args.file == "-":
            sys.stdout.write(data.decode("utf-8"))
        else:
            Path(args.file).write_bytes(data)
        faces = sum(1 for line in data.splitlines() if json.loads(line).get("type") == "face")
        print(f"exported {faces} faces", file=sys.stderr)
    elif args.action == "import":
        print(json.dumps(server.import_collection(Path(args.file).read_bytes(), args.collection)))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    from visage.config import reference_markdown

    print(reference_markdown(), end="")
    return 0


def _store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", help="store URL (default VISAGE_STORE_URL or sqlite under VISAGE_HOME)")
    p.add_argument("--server", help="work through a running visage server's API (e.g. http://127.0.0.1:8000);"
                   " default: the server holding the local store, if one does")
    p.add_argument("--api-key", help="key for --server (default $VISAGE_API_KEY, else an admin key of"
                   " VISAGE_API_KEYS)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visage", description="Self-hosted face analysis server, library and CLI")
    parser.add_argument("--pipeline", choices=sorted(PIPELINES),
                        help="model pipeline (default from VISAGE_PIPELINE, else 'fast')")
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
    p.add_argument("--attributes", help="attributes to compute: 'all' or comma-separated names (docs/attributes.md)")
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

    p = sub.add_parser("index", help="bulk-enrol every image under a directory into a collection")
    p.add_argument("directory")
    p.add_argument("--collection", required=True)
    p.add_argument("--max-faces", type=int)
    p.add_argument("--quality-filter", default="AUTO", choices=["NONE", "AUTO", "LOW", "MEDIUM", "HIGH"])
    _store_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("collections", help="manage collections: list, create, describe, delete, export, import, search")
    p.add_argument("action", choices=["list", "create", "describe", "delete", "export", "import", "search"])
    p.add_argument("collection", nargs="?")
    _store_options(p)
    p.add_argument("--file", default="-", help="export/import file ('-' = stdout for export)")
    p.add_argument("--image", help="probe image for search")
    p.add_argument("--max-faces", type=int, default=5)
    p.add_argument("--threshold", type=float)
    p.add_argument("--all-faces", action="store_true")
    p.set_defaults(func=cmd_collections)

    p = sub.add_parser("config", help="print the configuration reference (markdown)")
    p.set_defaults(func=cmd_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    needs_collection = {"create", "describe", "delete", "export", "search"}
    if args.command == "collections" and args.action in needs_collection and not args.collection:
        parser.error(f"collections {args.action} needs a collection id")
    if args.command == "collections" and args.action == "search" and not args.image:
        parser.error("collections search needs --image")
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
