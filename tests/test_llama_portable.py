"""The llama.cpp server that set-up builds runs on CPUs other than the build machine's.

The build machine has AVX-512; the test runs the very same installed ``llama-server`` under
``qemu-x86_64 -cpu Nehalem`` (SSE4.2, no AVX at all). A build tuned to the build machine
dies there with SIGILL; the portable build loads its SSE4.2 kernels and answers.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import time
import urllib.request

import pytest

from avatarkit.engines import assets
from avatarkit.engines.llama_server import free_loopback_port

pytestmark = [
    pytest.mark.skipif(platform.machine() != "x86_64", reason="emulates an older x86-64 CPU"),
    pytest.mark.skipif(shutil.which("qemu-x86_64") is None,
                       reason="qemu-user is not installed (scripts/setup.sh installs it)"),
    pytest.mark.local_extra,
]


def _health(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_llama_server_answers_on_a_cpu_without_avx(tmp_path) -> None:
    binary = assets.llama_server_binary()
    model = assets.smollm2_gguf_path()
    port = free_loopback_port()
    log = (tmp_path / "llama-server.log").open("wb")
    proc = subprocess.Popen(
        ["qemu-x86_64", "-cpu", "Nehalem", str(binary), "-m", str(model), "--host",
         "127.0.0.1", "--port", str(port), "-c", "256", "-t", "1"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while not _health(port):
            assert proc.poll() is None, (
                f"llama-server died on an emulated CPU without AVX (exit {proc.returncode}): "
                "the build is not portable\n" + (tmp_path / "llama-server.log").read_text()[-2000:])
            assert time.monotonic() < deadline, "llama-server did not start under qemu"
            time.sleep(0.5)
        body = json.dumps({"messages": [{"role": "user", "content": "Hi"}],
                           "max_tokens": 3}).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions",
                                         data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=180) as resp:
            answer = json.loads(resp.read())
        assert answer["choices"][0]["message"]["content"].strip()
    finally:
        proc.kill()
        proc.wait()
        log.close()
