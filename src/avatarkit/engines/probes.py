"""Small HTTP probes of a local server: a free port, ``/health``, a warm-up request."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request


def free_loopback_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def health_ok(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def warm_up(base_url: str, model: str = "smollm2", timeout: float = 10.0, *,
            system: str | None = None, api_key: str | None = None,
            slot: int | None = None) -> bool:
    """Send a one-token chat completion so the first real one is not the slow, cold one
    (with ``system``: that system prompt, so the server caches its prefix; with ``slot``:
    in that slot of llama.cpp's server, see :mod:`.llama_slots`)."""
    messages = [{"role": "user", "content": "Hi"}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    # llama.cpp's server caches the prompt by default (cache_prompt); other servers would
    # refuse an unknown field, so none is sent unless a llama.cpp slot is asked for
    payload: dict[str, object] = {"model": model, "max_tokens": 1, "messages": messages}
    if slot is not None:
        payload["id_slot"] = slot
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(f"{base_url}/chat/completions", data=body,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False
