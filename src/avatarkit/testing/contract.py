"""The error every check raises: which rule a plugin broke, and how to fix it."""

from __future__ import annotations


class ContractError(AssertionError):
    """A plugin broke the avatarkit contract. ``rule`` names it (``lifecycle: close twice``);
    the message says what happened and how to fix it."""

    def __init__(self, rule: str, what: str, fix: str = "") -> None:
        self.rule = rule
        self.what = what
        self.fix = fix
        super().__init__(f"[{rule}] {what}" + (f"\n  fix: {fix}" if fix else ""))
