"""Engines that run on this machine: Silero VAD (every brain that detects speech locally)
and the offline stack of the ``local`` brain (whisper STT, Piper/espeak-ng TTS, llama.cpp).

Importing this package is cheap. Each engine lives in its own module and imports its heavy
dependencies (livekit, numpy, onnxruntime, faster-whisper, piper) only when used:

- :mod:`~avatarkit.engines.vad` -- Silero VAD, loaded once per process and setting
- :mod:`~avatarkit.engines.whisper_stt` -- ``WhisperSTT`` (faster-whisper, packaged tiny.en)
- :mod:`~avatarkit.engines.piper_tts` -- ``PiperTTS`` (piper-tts, packaged en_US-joe voice)
- :mod:`~avatarkit.engines.espeak_tts` -- ``EspeakTTS`` (the system ``espeak-ng`` binary)
- :mod:`~avatarkit.engines.tts_select` -- picks Piper or espeak-ng
- :mod:`~avatarkit.engines.say` -- speaks a sentence into samples (``demo --ask``)
- :mod:`~avatarkit.engines.llama_server` -- the process-wide llama.cpp ``llama-server``
  (with :mod:`~avatarkit.engines.launcher`, :mod:`~avatarkit.engines.probes` and
  :mod:`~avatarkit.engines.exit_status`)
- :mod:`~avatarkit.engines.endpoint` -- checks that a user's OpenAI-compatible server answers
- :mod:`~avatarkit.engines.assets` -- where the packaged models and binaries are
- :mod:`~avatarkit.engines.threaded` -- a blocking iterator consumed from asyncio

Nothing here imports a brain, a face or a transport.
"""
