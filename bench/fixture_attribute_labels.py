"""Hand labels of facial expression on the fixture photos (../shared/fixtures/faces), by the visage
developer who wrote the expression code, from the face crops (bench/eval_expression.py --sheet prints
the contact sheet they were read from). None = ambiguous or not visible: left out of every count.

Keys are (path relative to the fixtures, face index in the fast pipeline's order: largest face first).
``photo`` groups files that are the same photograph (resized or cropped copies), so counts can be
given per distinct photo as well as per file.

* ``smile``: the person smiles (closed- or open-mouth).
* ``mouth_open``: the lips are visibly apart (talking, or a smile that shows the teeth apart).
* ``expression``: Qiniu's none / smile (smile, lips together) / laugh (smile with the lips apart).
"""

from __future__ import annotations

# file, face index -> (photo group, smile, mouth_open, expression)
LABELS: dict[tuple[str, int], tuple[str, bool | None, bool | None, str | None]] = {
    ("32bit.png", 0): ("obama-talking", False, True, "none"),
    ("obama2.jpg", 0): ("obama-talking", False, True, "none"),
    ("alex-lacamoire.png", 0): ("alex-a", True, True, "laugh"),
    ("biden.jpg", 0): ("biden-a", False, False, "none"),
    ("lin-manuel-miranda.png", 0): ("lin", False, None, "none"),
    ("obama.jpg", 0): ("obama-portrait", True, True, "laugh"),
    ("obama-1080p.jpg", 0): ("obama-portrait", True, True, "laugh"),
    ("obama-720p.jpg", 0): ("obama-portrait", True, True, "laugh"),
    ("obama-480p.jpg", 0): ("obama-portrait", True, True, "laugh"),
    ("obama-240p.jpg", 0): ("obama-portrait", True, True, "laugh"),
    ("obama_small.jpg", 0): ("obama-portrait", True, True, "laugh"),
    ("obama_partial_face.jpg", 0): ("obama-portrait", True, True, "laugh"),
    ("obama_partial_face2.jpg", 0): ("obama-portrait", True, True, "laugh"),
    ("obama3.jpg", 0): ("obama-slight-smile", True, False, "smile"),
    ("two_people.jpg", 1): ("obama-slight-smile", True, False, "smile"),
    ("two_people.jpg", 0): ("biden-b", False, False, "none"),
    ("people/alex_lacamoire/img1.jpg", 0): ("alex-b", True, True, "laugh"),
    ("people/biden/biden2.jpg", 0): ("biden-c", True, True, "laugh"),
    ("people/kit_harington/john1.jpeg", 0): ("kit-a", False, False, "none"),
    ("people/kit_harington/john2.jpeg", 0): ("kit-b", False, False, "none"),
    ("people/rose_leslie/img1.jpg", 0): ("rose-a", False, False, "none"),
    ("people/rose_leslie/img2.jpg", 0): ("rose-b", True, False, "smile"),
    ("scenes/alex_lacamoire1.jpg", 0): ("alex-c", True, True, "laugh"),
    ("scenes/johnsnow_test1.jpg", 0): ("kit-c", False, False, "none"),
    ("scenes/kit_with_rose.jpg", 0): ("kit-d", None, False, None),
    ("scenes/kit_with_rose.jpg", 1): ("rose-c", True, True, "laugh"),
    ("scenes/obama1.jpg", 0): ("obama-d", False, False, "none"),
    ("scenes/obama_and_biden.jpg", 0): ("obama-e", False, False, "none"),
    ("scenes/obama_and_biden.jpg", 1): ("biden-d", True, True, "laugh"),
    ("scenes/obama_and_biden.jpg", 2): ("child", None, None, None),
}
