"""Keeping Python's cyclic garbage collector off the server's long-lived heap.

Once the models, the store and the web app are loaded, the process holds about 100,000 Python
objects that live as long as it does. Every full collection walked all of them: a request's few
thousand short-lived objects (response lists, JSON) triggered one every few requests, and it cost
~5 ms of the event loop's CPU per ``/v1/embed`` on average (profiled: it showed up inside
``ndarray.tolist`` of the landmark lists). ``gc.freeze()`` moves what is alive at that point to a
permanent generation that collections skip; garbage made afterwards is still collected.
Done once, by `visage serve` when it is ready, never in a library user's process.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("visage.api")


def freeze_long_lived() -> int:
    """Collect once, then exempt every object alive now from later collections; the count frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("froze %d long-lived objects out of the garbage collector's walks", frozen)
    return frozen
