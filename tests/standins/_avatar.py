"""A provider's renderer for stand-ins: :mod:`standins.avatar_worker` as a subprocess that
joins the real room with the token the plugin minted, and the events it reports."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WORKER = Path(__file__).with_name("avatar_worker.py")
TESTS = Path(__file__).resolve().parents[1]


def token_claims(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified (the stand-in is not LiveKit: it only reads them)."""
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


@dataclass
class AvatarProcess:
    """One running avatar worker and its JSON-lines event log."""

    events_path: Path
    process: asyncio.subprocess.Process

    def events(self) -> list[dict[str, Any]]:
        if not self.events_path.exists():
            return []
        lines = self.events_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    async def wait_event(self, event: str, *, timeout: float = 60.0,
                         after: int = 0) -> dict[str, Any]:
        """The first ``event`` the worker reported (past index ``after``)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.events()[after:] if e["event"] == event]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise TimeoutError(f"the avatar worker never reported {event!r}: "
                                   f"{self.events()}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except asyncio.TimeoutError:
            self.process.kill()
            await self.process.wait()


async def launch_avatar(workdir: Path, name: str, url: str, token: str, *, width: int = 128,
                        height: int = 128, sample_rate: int = 24000,
                        env: dict[str, str] | None = None) -> AvatarProcess:
    """Start an avatar worker joining with ``token`` (publishing for its
    ``lk.publish_on_behalf``); its log is ``workdir/NAME.log``."""
    events = workdir / f"{name}.jsonl"
    publisher = token_claims(token).get("attributes", {}).get("lk.publish_on_behalf", "")
    full_env = {**os.environ, **(env or {}),
                "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
                "AVATAR_LIVEKIT_URL": url, "AVATAR_TOKEN": token, "AVATAR_PUBLISHER": publisher,
                "AVATAR_EVENTS": str(events), "AVATAR_WIDTH": str(width),
                "AVATAR_HEIGHT": str(height), "AVATAR_SAMPLE_RATE": str(sample_rate)}
    with (workdir / f"{name}.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(WORKER), env=full_env, stdin=asyncio.subprocess.DEVNULL,
            stdout=log, stderr=asyncio.subprocess.STDOUT)
    return AvatarProcess(events, process)
