"""Built-in speech providers of the pipeline brain, one module per family: cloud STT
(Deepgram, OpenAI), LLMs (OpenAI, vLLM, any OpenAI-compatible server), cloud TTS (Cartesia,
OpenAI), ElevenLabs, and the local engines (whisper, llama.cpp, Piper, espeak-ng).

Each module imports only pydantic and avatarkit's light modules; a provider's LiveKit plugin
is imported inside its ``create``.
"""
