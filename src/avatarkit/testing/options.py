"""Options: unknown keys refused, missing env vars named, nothing connects before that."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, MissingCredentialsError, UsageError
from .contract import ContractError
from .network import no_network


def check_options(cls: type[Any], valid: Mapping[str, Any] | None = None) -> list[str]:
    """Check ``cls`` (a Face or Brain class) handles its options as the contract says.

    ``valid``: options that parse (default: none). Returns the env vars checked.
    """
    valid = dict(valid or {})
    label = f"{getattr(cls, 'kind', 'part')} '{getattr(cls, 'name', cls.__name__)}'"
    with no_network(f"validating the options of {label}"):
        options = cls.parse_options(valid)
        try:
            cls.parse_options({**valid, "avatarkit_kit_no_such_option": 1})
        except ConfigError as exc:
            if "avatarkit_kit_no_such_option" not in exc.message:
                raise ContractError("options: unknown key refused", f"{label} refused an "
                                    "unknown option without naming it: " + exc.message) from None
        else:
            raise ContractError("options: unknown key refused",
                                f"{label} accepted an unknown option",
                                "subclass avatarkit.plugin.PartOptions (extra='forbid')")
        needed = tuple(cls.required_env(options))
        for var in needed:
            environ = {v: "x" for v in needed if v != var}
            try:
                cls.check_usable(options, environ)
            except MissingCredentialsError as exc:
                if var not in exc.message:
                    raise ContractError("options: missing env var named",
                                        f"{label} did not name {var}: {exc.message}") from None
            except UsageError as exc:
                raise ContractError("options: missing env var named", f"{label} reported "
                                    f"{type(exc).__name__} instead of MissingCredentialsError "
                                    f"for {var}: {exc.message}") from None
            else:
                raise ContractError("options: missing env var named",
                                    f"{label} accepted a missing {var}",
                                    "list it in `env` (or required_env) and call "
                                    "super().check_usable()")
        cls(options)  # constructing connects nothing either
    return list(needed)
