"""Record network connections and name lookups while armed (a ``sys`` audit hook)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

_recording: list[list[str]] = []
_installed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _recording:
        return
    if event == "socket.connect":
        _recording[-1].append(f"connect {args[1]}")
    elif event == "socket.getaddrinfo":
        _recording[-1].append(f"lookup {args[0]}")


@contextlib.contextmanager
def recording() -> Iterator[list[str]]:
    """Yield the list of connections (``connect ADDRESS``) and lookups (``lookup HOST``)
    attempted inside the block."""
    global _installed
    if not _installed:
        sys.addaudithook(_audit)  # hooks cannot be removed: this one records only when armed
        _installed = True
    seen: list[str] = []
    _recording.append(seen)
    try:
        yield seen
    finally:
        _recording.remove(seen)


@contextlib.contextmanager
def no_network(what: str) -> Iterator[None]:
    """Fail with :class:`ContractError` if anything inside the block touches the network."""
    from .contract import ContractError

    with recording() as seen:
        yield
    if seen:
        raise ContractError("options: nothing connects", f"{what} touched the network: "
                            f"{', '.join(seen[:3])}", "validate options and credentials "
                            "without network calls; connect in start()/build()")
