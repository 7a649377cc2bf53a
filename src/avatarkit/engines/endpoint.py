"""Check that a user's OpenAI-compatible server (vLLM, Ollama, llama.cpp...) answers."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request

from ..errors import AvatarkitError
from ..redact import redact_url, split_userinfo


def models_url(base_url: str) -> str:
    """``{base_url}/models``: the listing every OpenAI-compatible server serves."""
    return base_url.rstrip("/") + "/models"


def check_openai_endpoint(
    base_url: str, *, api_key: str | None = None, timeout: float = 3.0
) -> list[str]:
    """GET ``{base_url}/models``; return the model ids it lists.

    Raises :class:`~avatarkit.errors.AvatarkitError` (exit code 1) naming the URL when
    nothing answers, the key is refused, or the answer is not an OpenAI model listing.
    A ``user:password@`` in ``base_url`` is sent as HTTP basic auth, as the OpenAI client
    does (never as part of the host name), and never printed.
    """
    target, userinfo = split_userinfo(models_url(base_url))
    url, base_url = redact_url(target), redact_url(base_url)
    request = urllib.request.Request(target, headers={"Accept": "application/json"})
    if userinfo is not None:
        pair = base64.b64encode(":".join(userinfo).encode()).decode()
        request.add_header("Authorization", f"Basic {pair}")
    elif api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    fallback = "or leave `base_url` unset to use the bundled llama.cpp server"
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise AvatarkitError(
                f"the LLM server at {base_url} refused the API key (HTTP {exc.code} from {url})",
                hint="set `api_key` to a key this server accepts",
            ) from None
        raise AvatarkitError(
            f"the LLM server at {base_url} answered HTTP {exc.code} for {url}",
            hint="is base_url the OpenAI-compatible root, usually ending in /v1 "
            f"(vLLM: http://HOST:8000/v1, Ollama: http://HOST:11434/v1)? {fallback}",
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AvatarkitError(
            f"no OpenAI-compatible LLM server answers at {base_url} ({reason})",
            hint=f"start it (e.g. `vllm serve MODEL` or `ollama serve`) and check the URL, "
            f"{fallback}",
        ) from None
    try:
        data = json.loads(body)
        return [str(m.get("id")) for m in data.get("data", []) if isinstance(m, dict)]
    except (ValueError, AttributeError):
        raise AvatarkitError(
            f"{url} did not return an OpenAI model listing",
            hint="is base_url the OpenAI-compatible root, usually ending in /v1?",
        ) from None
