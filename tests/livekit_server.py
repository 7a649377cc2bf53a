"""A real ``livekit-server`` on 127.0.0.1 for the room tests (no fakes, no network).

The binary is the pinned release that ``scripts/setup.sh local,test`` builds from LiveKit's Go
module into ``.tools/bin/livekit-server`` (or ``$AVATARKIT_LIVEKIT_SERVER``, or one on PATH).
Each server gets free ports (signal, RTC TCP, a small UDP range), no external-IP discovery,
and its own key/secret.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PINNED_VERSION = (ROOT / "scripts" / "livekit-server.version").read_text().strip()
UDP_PORTS = 40  # a small range: every participant uses one


def find_binary() -> Path | None:
    """The livekit-server binary the tests use, or ``None``."""
    explicit = os.environ.get("AVATARKIT_LIVEKIT_SERVER")
    if explicit:
        return Path(explicit)
    local = ROOT / ".tools" / "bin" / "livekit-server"
    if local.is_file():
        return local
    found = shutil.which("livekit-server")
    return Path(found) if found else None


def _fixed_port_range() -> tuple[int, int]:
    """Ports below the kernel's ephemeral range: no outgoing connection is ever given one,
    so a port found free here stays free until the process it is meant for binds it
    (a CI run lost a worker's health port to an outgoing connection in between)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    if low > 12000:
        return 10000, low - 1
    return (high + 1, 65535) if high < 63000 else (10000, 65535)


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that nothing holds, outside the ephemeral range."""
    low, high = _fixed_port_range()
    rng = secrets.SystemRandom()
    for _ in range(200):
        port = rng.randrange(low, high + 1)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port on 127.0.0.1")


def free_udp_range(count: int = UDP_PORTS) -> tuple[int, int]:
    """``count`` consecutive UDP ports on 127.0.0.1 that nothing holds right now."""
    rng = secrets.SystemRandom()
    low, high = _fixed_port_range()
    for _ in range(200):
        start = rng.randrange(low, high + 1 - count)
        socks: list[socket.socket] = []
        try:
            for port in range(start, start + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return start, start + count - 1
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free UDP port range on 127.0.0.1")


@dataclass
class LiveKitServer:
    """A running server: ``url`` (ws://), ``http_url``, credentials, its log file."""

    url: str
    http_url: str
    api_key: str
    api_secret: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def env(self) -> dict[str, str]:
        """``LIVEKIT_URL``/``_API_KEY``/``_API_SECRET`` for a worker or CLI process."""
        return {"LIVEKIT_URL": self.url, "LIVEKIT_API_KEY": self.api_key,
                "LIVEKIT_API_SECRET": self.api_secret}

    def api(self) -> Any:
        """A ``livekit.api.LiveKitAPI`` (RoomService, AgentDispatchService...); close it."""
        from livekit import api

        return api.LiveKitAPI(self.http_url, self.api_key, self.api_secret)

    def token(self, room: str, identity: str, **grants: Any) -> str:
        """A join token for ``identity`` in ``room`` (extra ``VideoGrants`` fields allowed)."""
        from livekit import api

        return (api.AccessToken(self.api_key, self.api_secret).with_identity(identity)
                .with_grants(api.VideoGrants(room_join=True, room=room, **grants)).to_jwt())

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_livekit_server(binary: Path, workdir: Path, *, ready_timeout: float = 30.0
                         ) -> LiveKitServer:
    """Start ``livekit-server --dev`` on 127.0.0.1 with free ports; wait until it answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, tcp_port = free_tcp_port(), free_tcp_port()
    udp_start, udp_end = free_udp_range()
    key, secret = "avatarkit-test", secrets.token_urlsafe(32)
    config = workdir / "livekit.yaml"
    config.write_text(
        f"port: {port}\n"
        "bind_addresses: [\"127.0.0.1\"]\n"
        "rtc:\n"
        f"  tcp_port: {tcp_port}\n"
        f"  port_range_start: {udp_start}\n"
        f"  port_range_end: {udp_end}\n"
        "  use_external_ip: false\n"
        "  node_ip: 127.0.0.1\n"
        f"keys:\n  {key}: {secret}\n"
        "logging:\n  level: info\n"
    )
    log_path = workdir / "livekit-server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([str(binary), "--dev", "--config", str(config)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    server = LiveKitServer(url=f"ws://127.0.0.1:{port}", http_url=f"http://127.0.0.1:{port}",
                           api_key=key, api_secret=secret, port=port, log_path=log_path,
                           process=proc)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"livekit-server exited with {proc.returncode}:\n"
                               f"{server.log_tail()}")
        with contextlib.suppress(OSError), \
                urllib.request.urlopen(server.http_url, timeout=1) as resp:
            if resp.status == 200:
                return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"livekit-server did not answer within {ready_timeout:g} s:\n"
                       f"{server.log_tail()}")
