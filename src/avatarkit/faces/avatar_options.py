"""The options every cloud face has; a provider's ``Options`` subclasses one of these."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr, model_validator

from ..part import HttpUrl, PartOptions


class AvatarSessionOptions(PartOptions):
    """Options every cloud face has (a provider's ``Options`` subclasses this).

    ``exactly_one`` names options of which exactly one must be set (checked at load).
    """

    exactly_one: ClassVar[tuple[str, ...]] = ()

    join_timeout: float = Field(
        default=30.0, gt=0, description="Seconds to wait for the avatar's video track "
        "(capped by the composer's face join timeout).")
    video_stall_timeout: float | None = Field(
        default=4.0, gt=0, description="Seconds without video packets from the avatar before "
        "it counts as dead (None: only a leave or unpublish counts).")
    avatar_identity: str | None = Field(
        default=None, min_length=1,
        description="The avatar's participant identity (default: the plugin's).")
    max_session_s: float | None = Field(
        default=None, ge=0, description="Start a fresh provider session before this many "
        "seconds and swap it in between replies (default: the provider's known cap; 0: never).")
    rotate_lead_s: float = Field(
        default=30.0, gt=0, description="Seconds before max_session_s when the fresh session "
        "starts (it must join and the agent pause before the cap).")

    @model_validator(mode="after")
    def _exactly_one(self) -> AvatarSessionOptions:
        if self.exactly_one:
            given = [name for name in self.exactly_one if getattr(self, name) is not None]
            if len(given) != 1:
                raise ValueError(f"set exactly one of {', '.join(self.exactly_one)}"
                                 + (f" (got {', '.join(given)})" if given else ""))
        return self


BASE_OPTIONS = frozenset(AvatarSessionOptions.model_fields)


class ApiKeyOptions(AvatarSessionOptions):
    """A provider face's options with the provider's API key."""

    api_key: SecretStr | None = Field(
        default=None, description="The provider's API key; else its environment variable.")


class ApiOptions(ApiKeyOptions):
    """A provider face's options with the provider's API key and an API URL override."""

    api_url: HttpUrl | None = Field(
        default=None, description="The provider's API URL (default: the plugin's).")
