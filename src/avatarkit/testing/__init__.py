"""The plugin authors' kit: contract checks a face or brain plugin calls from its own tests.

Each check raises :class:`ContractError` (an ``AssertionError``) naming the broken rule and
how to fix it, and returns what it measured. Everything runs offline, with no model to
download; a cloud part points its options at a local stand-in of its provider.

- :func:`check_options`: unknown keys refused, each declared env var reported when missing,
  nothing connects before that;
- :func:`check_import_cost`: importing the plugin module imports nothing heavy, fast;
- :func:`check_face_lifecycle` / :func:`check_brain_lifecycle`: start/close, close twice,
  close after a failed start, close while start hangs, cancel: no exception escapes, no task
  or thread left, a paid session stopped exactly once;
- :func:`check_face_behaviour`: a scripted brain speaks a wav through the file transport;
  a video face's frames move with the audio and stop when interrupted;
- :func:`check_face_fallback`: a face that dies reports ``failure()``, the composer goes on
  with audio only;
- :func:`check_brain_answers`: a brain answers a spoken question over the file transport.

Installed as a pytest plugin (``pytest11``): the ``avatarkit_kit_dir`` fixture and the
``avatarkit_kit`` marker. Importing this package is cheap; the checks import LiveKit when run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .behaviour import BehaviourReport, check_brain_answers, check_face_behaviour
    from .contract import ContractError
    from .fallback import check_face_fallback
    from .imports import ImportCost, check_import_cost
    from .lifecycle import PaidSessions, check_brain_lifecycle, check_face_lifecycle
    from .network import no_network
    from .options import check_options
    from .scripted import ScriptedBrain, speech_samples, write_speech_wav

_WHERE = {
    "BehaviourReport": "behaviour", "check_brain_answers": "behaviour",
    "check_face_behaviour": "behaviour", "ContractError": "contract",
    "check_face_fallback": "fallback", "ImportCost": "imports",
    "check_import_cost": "imports", "PaidSessions": "lifecycle",
    "check_brain_lifecycle": "lifecycle", "check_face_lifecycle": "lifecycle",
    "no_network": "network", "check_options": "options", "ScriptedBrain": "scripted",
    "speech_samples": "scripted", "write_speech_wav": "scripted",
}

__all__ = [
    "BehaviourReport", "ContractError", "ImportCost", "PaidSessions", "ScriptedBrain",
    "check_brain_answers", "check_brain_lifecycle", "check_face_behaviour",
    "check_face_fallback", "check_face_lifecycle", "check_import_cost", "check_options",
    "no_network", "speech_samples", "write_speech_wav",
]


def __getattr__(name: str) -> Any:
    """Load a check on first use."""
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'avatarkit.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(f".{where}", __name__), name)
