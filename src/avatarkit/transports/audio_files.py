"""Reading spoken input for the file transport: any audio file -> 16 kHz mono int16."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

from ..errors import UsageError

INPUT_RATE = 16000
SILENCE_RMS = 100.0  # int16 RMS under which a clip counts as silent (about -50 dBFS)
#: Longest spoken input the demo plays (a question, not a recording of a meeting).
MAX_INPUT_SECONDS = 60.0


def load_speech(path: str | Path) -> Any:
    """Decode ``path`` (wav, mp3, flac, ...) to 16 kHz mono int16 samples.

    Raises :class:`UsageError` naming the file when it is missing, unreadable, empty,
    silent or longer than :data:`MAX_INPUT_SECONDS` (decoding stops there): a demo that
    waits for speech that never comes helps nobody.
    """
    import av
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"input audio not found: {path}", hint="give an existing .wav file")
    try:
        chunks = []
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise UsageError(f"{path} has no audio stream", hint="give a .wav file")
            if (container.duration or 0) / av.time_base > MAX_INPUT_SECONDS:
                _too_long(str(path), container.duration / av.time_base)
            resampler = av.AudioResampler(format="s16", layout="mono", rate=INPUT_RATE)
            decoded = 0
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
                    decoded += len(chunks[-1])
                if decoded > MAX_INPUT_SECONDS * INPUT_RATE:  # no (or a wrong) duration
                    _too_long(str(path), None)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except UsageError:
        raise
    except Exception as exc:  # noqa: BLE001 - PyAV raises many kinds
        raise UsageError(f"cannot read input audio {path}: {exc}",
                         hint="give a readable .wav (PCM) file") from None
    samples = np.concatenate(chunks).astype(np.int16) if chunks else np.zeros(0, np.int16)
    check_speech(samples, str(path))
    return samples


def _too_long(source: str, seconds: float | None) -> NoReturn:
    length = f" ({seconds:.1f} s)" if seconds is not None else ""
    raise UsageError(f"input audio {source} is longer than {MAX_INPUT_SECONDS:g} s{length}",
                     hint=f"give a spoken question of at most {MAX_INPUT_SECONDS:g} s")


def check_speech(samples: Any, source: str) -> None:
    """Refuse empty, silent or too long (> :data:`MAX_INPUT_SECONDS`) input."""
    import numpy as np

    if len(samples) > MAX_INPUT_SECONDS * INPUT_RATE:
        _too_long(source, len(samples) / INPUT_RATE)
    if len(samples) < INPUT_RATE // 4:
        raise UsageError(f"input audio {source} is empty or shorter than 0.25 s",
                         hint="record a spoken question of a second or more")
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    if rms < SILENCE_RMS:
        raise UsageError(f"input audio {source} is silent (RMS {rms:.0f})",
                         hint="check the recording, or use --ask \"your question\"")
