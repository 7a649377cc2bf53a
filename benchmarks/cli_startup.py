"""CLI start-up cost against importing LiveKit Agents, measured in the same run.

Prints the median wall time of `avatarkit --help`, `avatarkit plugins --json` and
`python -c "import livekit.agents"`, and the ratios (target: both under 10%).

    python benchmarks/cli_startup.py [--runs 9]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "avatarkit --help": [sys.executable, "-m", "avatarkit", "--help"],
    "avatarkit plugins --json": [sys.executable, "-m", "avatarkit", "plugins", "--json"],
    "import livekit.agents": [sys.executable, "-c", "import livekit.agents"],
}


def median_seconds(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, capture_output=True, check=True)  # warm the OS file cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    results = {name: median_seconds(cmd, args.runs) for name, cmd in COMMANDS.items()}
    baseline = results["import livekit.agents"]
    print(f"{'command':<28}{'median s':>10}{'vs livekit':>12}")
    for name, seconds in results.items():
        print(f"{name:<28}{seconds:>10.3f}{seconds / baseline:>11.1%}")
    print("target: avatarkit commands under 10% of the livekit import")


if __name__ == "__main__":
    main()
