"""Offline engines for the ``local`` brain: whisper STT, Piper/espeak-ng TTS, llama.cpp server.

Importing this package is cheap. Each engine lives in its own module and imports its heavy
dependencies (livekit, numpy, onnxruntime, faster-whisper, piper) only when used:

- :mod:`avatarkit.local.whisper_stt` -- ``WhisperSTT`` (faster-whisper, packaged tiny.en)
- :mod:`avatarkit.local.piper_tts` -- ``PiperTTS`` (piper-tts, packaged en_US-joe voice)
- :mod:`avatarkit.local.espeak_tts` -- ``EspeakTTS`` (the system ``espeak-ng`` binary)
- :mod:`avatarkit.local.tts_select` -- picks Piper or espeak-ng
- :mod:`avatarkit.local.llama_server` -- the process-wide llama.cpp ``llama-server``
- :mod:`avatarkit.local.endpoint` -- checks that a user's OpenAI-compatible server answers
- :mod:`avatarkit.local.vad` -- Silero VAD, loaded once per process
- :mod:`avatarkit.local.assets` -- where the packaged models and binaries are
"""
