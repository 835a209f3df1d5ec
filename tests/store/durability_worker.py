"""Subprocess for the kill -9 test: bulk-adds faces forever, printing each acknowledged face id.

An id is printed only after ``add_faces`` returned, i.e. after the store acknowledged it.
Usage: python durability_worker.py URL COLLECTION
"""

from __future__ import annotations

import sys

from store_helpers import new_faces, unit_vectors

from visage.store import open_store


def main() -> None:
    url, collection = sys.argv[1], sys.argv[2]
    store = open_store(url)
    store.search(collection, new_faces(unit_vectors(1))[0].template)  # load the index, if any
    batch = 0
    while True:
        faces = new_faces(unit_vectors(10, seed=1000 + batch), prefix=f"b{batch}")
        for face in store.add_faces(collection, faces):
            print(face.face_id, flush=True)
        batch += 1


if __name__ == "__main__":
    main()
