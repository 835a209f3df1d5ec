"""Subprocess for the killed-import test: imports an export file and dies (``os._exit``, no
cleanup, like kill -9) once every face is loaded, when the first user is created.

Usage: python import_worker.py URL FILE NEW_COLLECTION_ID
"""

from __future__ import annotations

import os
import sys

from visage.store import open_store


def main() -> None:
    url, path, collection_id = sys.argv[1:4]
    store = open_store(url)

    def die(*_args: object, **_kwargs: object) -> None:
        print("faces loaded", flush=True)
        os._exit(3)

    store.create_user = die  # type: ignore[method-assign]
    with open(path, encoding="utf-8") as fp:
        store.import_collection(fp, collection_id=collection_id)
    print("import returned", flush=True)


if __name__ == "__main__":
    main()
