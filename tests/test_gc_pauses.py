"""What a process loaded before its first session is kept out of full garbage collections."""

from __future__ import annotations

import gc

from avatarkit.gc_pauses import freeze_loaded


def tracked(objects: list[object]) -> int:
    """How many of ``objects`` the collector still walks (frozen ones it does not)."""
    ids = {id(o) for o in gc.get_objects()}
    return sum(id(o) in ids for o in objects)


def test_loaded_objects_leave_the_collected_generations() -> None:
    loaded: list[object] = [[i] for i in range(20_000)]
    try:
        assert tracked(loaded[:200]) == 200
        assert freeze_loaded() >= 20_000
        assert tracked(loaded[:200]) == 0
        later: list[object] = [[i] for i in range(100)]  # made after: collected as usual
        assert tracked(later) == 100
    finally:
        gc.unfreeze()
