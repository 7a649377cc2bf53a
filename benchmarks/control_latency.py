"""Control-API latency: ``POST /avatars/{id}/emotion`` of a worker's per-session API (HTTP,
then the session's link WebSocket, the face, and back) against ``POST /emotion`` of the
single-face API (HTTP straight to the face), measured in the same run on 127.0.0.1.

    python benchmarks/control_latency.py [--requests 200]

Both drive a real ``LocalFace`` (not rendering); the figures are median and p95 request
times and the ratio per-session / single-face (the cost of the extra hop).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time


async def timed_posts(url: str, token: str, n: int) -> list[float]:
    import aiohttp

    headers = {"Authorization": f"Bearer {token}"}
    names = ["happy", "concerned"]
    times = []
    async with aiohttp.ClientSession() as http:
        for i in range(n):
            t0 = time.perf_counter()
            async with http.post(url, headers=headers,
                                 json={"name": names[i % 2], "intensity": 0.8}) as resp:
                assert resp.status == 200, await resp.text()
                await resp.read()
            times.append(time.perf_counter() - t0)
    return times


async def main(n: int) -> None:
    from avatarkit.faces.local import LocalFace
    from avatarkit.web.control_api import ControlServer
    from avatarkit.web.sessions_api import SessionsControlServer
    from avatarkit.worker.session_link import open_link

    single_face = LocalFace({"motion": 0})
    single = ControlServer(single_face, port=0, token="t")
    await single.start()
    sessions = SessionsControlServer(port=0, token="t")
    await sessions.start()
    face = LocalFace({"motion": 0})
    link = await open_link(sessions.link, session_id="S1", room="bench", face=face)
    assert link is not None
    while "S1" not in sessions.sessions:
        await asyncio.sleep(0.01)
    try:
        await timed_posts(single.url + "/emotion", "t", 20)  # warm up both
        await timed_posts(sessions.url + "/avatars/S1/emotion", "t", 20)
        base = await timed_posts(single.url + "/emotion", "t", n)
        per = await timed_posts(sessions.url + "/avatars/S1/emotion", "t", n)
    finally:
        await link.aclose()
        await sessions.aclose()
        await single.aclose()

    def row(name: str, xs: list[float]) -> str:
        p95 = sorted(xs)[int(0.95 * len(xs)) - 1]
        return f"{name:<40} {statistics.median(xs) * 1000:8.2f} {p95 * 1000:8.2f}"

    print(f"{'request (' + str(n) + ' each)':<40} {'median ms':>8} {'p95 ms':>8}")
    print(row("single-face POST /emotion", base))
    print(row("per-session POST /avatars/{id}/emotion", per))
    print(f"ratio per-session / single-face (median): "
          f"{statistics.median(per) / statistics.median(base):.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    asyncio.run(main(parser.parse_args().requests))
