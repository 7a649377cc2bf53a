"""llama.cpp's time to first token with 1 thread and with 2, side by side in one run.

Starts two ``llama-server`` processes (packaged SmolLM2), one with ``-t 1`` and one with
``-t 2``, and sends each the same kind of one-token chat request (a ~60-token prompt that
differs every time, so nothing is cached) alternately. Prints the medians, every value and
the load average. On 2 cores shared with other work, 2 threads wait on each other.

    python benchmarks/llama_threads.py [--requests 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import urllib.request

SYSTEM = "You are a helpful avatar. Answer in one short sentence."


def first_token(url: str, content: str) -> float:
    body = json.dumps({"model": "smollm2", "max_tokens": 1, "messages": [
        {"role": "system", "content": SYSTEM}, {"role": "user", "content": content}]}).encode()
    request = urllib.request.Request(f"{url}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as response:
        response.read()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=8)
    args = parser.parse_args()
    from avatarkit.engines.llama_server import LlamaServer

    servers = {threads: LlamaServer(threads=threads) for threads in (1, 2)}
    try:
        urls = {threads: server.start_sync() for threads, server in servers.items()}
        load0 = os.getloadavg()[0]
        times: dict[int, list[float]] = {1: [], 2: []}
        for i in range(args.requests):
            for threads, url in urls.items():
                times[threads].append(first_token(url, (
                    f"Question {i}-{threads}: tell me about the history of city number "
                    f"{i * 7 + threads}, its rivers, bridges and the famous people who lived "
                    "there long ago.")))
        print(f"load avg {load0:.2f} -> {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        for threads, values in times.items():
            print(f"-t {threads}: median {statistics.median(values):.3f} s  "
                  + " ".join(f"{v:.2f}" for v in values))
        print(f"-t 2 / -t 1: {statistics.median(times[2]) / statistics.median(times[1]):.2f}x")
    finally:
        for server in servers.values():
            server.stop_sync()


if __name__ == "__main__":
    main()
