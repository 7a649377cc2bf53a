"""The state of the root options of one ``avatarkit`` invocation (no typer here, nor
``dataclasses``: the fast path of ``avatarkit plugins`` reads it without building the Typer
app, and every millisecond of its start-up counts)."""

from __future__ import annotations


class CliState:
    """The root options of this invocation (``--debug``, ``--no-plugin`` anywhere)."""

    def __init__(self) -> None:
        self.debug = False
        self.blocked: list[str] = []
        self.early_blocked: list[str] = []


STATE = CliState()
