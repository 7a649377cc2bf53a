"""Reading spoken input for the file transport: any audio file -> 16 kHz mono int16."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import UsageError

INPUT_RATE = 16000
SILENCE_RMS = 100.0  # int16 RMS under which a clip counts as silent (about -50 dBFS)


def load_speech(path: str | Path) -> Any:
    """Decode ``path`` (wav, mp3, flac, ...) to 16 kHz mono int16 samples.

    Raises :class:`UsageError` naming the file when it is missing, unreadable, empty or
    silent: a demo that waits for speech that never comes helps nobody.
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
            resampler = av.AudioResampler(format="s16", layout="mono", rate=INPUT_RATE)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
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


def check_speech(samples: Any, source: str) -> None:
    """Refuse empty or silent input with a clear message."""
    import numpy as np

    if len(samples) < INPUT_RATE // 4:
        raise UsageError(f"input audio {source} is empty or shorter than 0.25 s",
                         hint="record a spoken question of a second or more")
    rms = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
    if rms < SILENCE_RMS:
        raise UsageError(f"input audio {source} is silent (RMS {rms:.0f})",
                         hint="check the recording, or use --ask \"your question\"")
