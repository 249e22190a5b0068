"""Process-wide tuning for a long-running gateway process (CPython's cyclic collector).

At full rate the pipeline makes several container objects per message (the decoded
envelope, its body, dicts, tuples), so with CPython's default threshold (a young
collection every 700 allocations) the collector runs every ~100 messages, and every
tenth of those also walks the older generation, which holds every object made by the
imports (pydantic, SQLAlchemy, paho: about 90,000). Measured on the bench load, that is
more than half the cost of decoding an event. :func:`tune_gc` moves what start-up made
into the permanent generation (``gc.freeze``: never scanned again) and makes young
collections rarer; reference cycles are still collected, just in larger rounds.

Call it once per process after start-up (imports done, stores opened), not from a
library or a test: it changes the whole interpreter.
"""

from __future__ import annotations

import gc

#: Allocations (minus deallocations) of tracked objects between young collections.
GC_YOUNG_THRESHOLD = 20_000


def tune_gc(young_threshold: int = GC_YOUNG_THRESHOLD) -> None:
    """Freeze the start-up heap and raise the young-generation threshold.

    Args:
        young_threshold: new generation-0 threshold (CPython's default is 700); the
            older generations keep their thresholds.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, older, oldest)
