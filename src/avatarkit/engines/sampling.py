"""How the bundled model samples when the user does not say: its model card's settings,
and llama.cpp's DRY sampler against loops.

SmolLM2's model card samples at temperature 0.2 and top-p 0.9. llama.cpp's server defaults
(0.8 and 0.95) suit bigger models; with them the 135M model often answers in broken French
and now and then loops ("la femme au pays de France, la femme au pays de France, ...") to the
reply cap: 200 tokens, 6-11 s of decoding on 2 cores and a minute of speech. At the model
card's settings it answers right more often but still loops now and then; DRY ("don't repeat
yourself": a penalty on extending a sequence already in the context, multiplier 0.8) stopped
every loop measured, for ~12 ms more before the first token (it reads the context once).
Measured in ``benchmarks/llm_sampling.py`` (``docs/performance.md``).

The settings follow the *model* (the name sent to the server, ``smollm2`` for the bundled
one), not the server: the worker's job processes reach the bundled server through a
``base_url`` and sample the same way; any other model keeps its server's defaults.
"""

from __future__ import annotations

from typing import NamedTuple

from .llama_server import DEFAULT_ALIAS

__all__ = ["RECOMMENDED", "Sampling", "sampling_for"]


class Sampling(NamedTuple):
    """Sampler settings sent with every request (``None``: the server's default).
    ``dry_multiplier`` is llama.cpp's own field (sent in the request's extra body)."""

    temperature: float | None
    top_p: float | None
    dry_multiplier: float | None = None

    def extra_body(self) -> dict[str, float]:
        """The fields that are not OpenAI's."""
        return {} if self.dry_multiplier is None else {"dry_multiplier": self.dry_multiplier}


RECOMMENDED: dict[str, Sampling] = {
    DEFAULT_ALIAS: Sampling(temperature=0.2, top_p=0.9, dry_multiplier=0.8)}
"""Model name -> how it samples unless told (``smollm2``: the bundled server's alias)."""


def sampling_for(model: str, temperature: float | None = None,
                 top_p: float | None = None) -> Sampling:
    """The user's ``temperature``/``top_p`` where set, else ``model``'s recommended ones (its
    DRY setting either way: it is about loops, not style)."""
    base = RECOMMENDED.get(model, Sampling(None, None))
    return Sampling(base.temperature if temperature is None else temperature,
                    base.top_p if top_p is None else top_p, base.dry_multiplier)
