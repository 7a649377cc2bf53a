"""CLI start-up cost against importing LiveKit Agents, measured in the same run.

Prints the median wall time of `avatarkit --help`, `avatarkit plugins --json` and
`python -c "import livekit.agents"`, and the ratios (target: both under 10%), with the load
average they ran under. `plugins --json` reads its cached listing (built by the warm-up run);
the "(cache miss)" row times it with an empty cache each run (what the first listing after
installing or editing a plugin costs). ``--baseline-src DIR`` also times the commands of
another checkout's ``src`` (e.g. ``git archive main src | tar -x -C /tmp/base``), interleaved
with these runs.

    python benchmarks/cli_startup.py [--runs 9] [--baseline-src /tmp/base/src]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

COMMANDS = {
    "avatarkit --help": [sys.executable, "-m", "avatarkit", "--help"],
    "avatarkit plugins --json": [sys.executable, "-m", "avatarkit", "plugins", "--json"],
    "import livekit.agents": [sys.executable, "-c", "import livekit.agents"],
}


Env = Callable[[], "dict[str, str] | None"]
SCRATCH = tempfile.TemporaryDirectory(prefix="avatarkit-cli-bench-")  # removed at exit


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True, env=env)
    return time.perf_counter() - t0


def empty_cache() -> dict[str, str]:
    """An environment whose avatarkit cache is a new, empty directory."""
    return {**os.environ, "AVATARKIT_CACHE": tempfile.mkdtemp(dir=SCRATCH.name)}


def fixed(env: dict[str, str] | None) -> Env:
    """The same environment every run (``None``: this one)."""
    return lambda: env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--baseline-src", help="time this src directory's avatarkit too")
    args = parser.parse_args()
    runs: dict[str, tuple[list[str], Env]] = {
        name: (cmd, fixed(None)) for name, cmd in COMMANDS.items()}
    runs["avatarkit plugins --json (cache miss)"] = (COMMANDS["avatarkit plugins --json"],
                                                     empty_cache)
    if args.baseline_src:
        env = {**os.environ, "PYTHONPATH": args.baseline_src}
        for name in ("avatarkit --help", "avatarkit plugins --json"):
            runs[f"{name} (baseline)"] = (COMMANDS[name], fixed(env))
    for cmd, make_env in runs.values():
        timed(cmd, make_env())  # warm the OS file cache (and avatarkit's listing cache)
    times: dict[str, list[float]] = {name: [] for name in runs}
    load0 = os.getloadavg()
    for _ in range(args.runs):  # interleaved: every command sees the same load
        for name, (cmd, make_env) in runs.items():
            times[name].append(timed(cmd, make_env()))
    load1 = os.getloadavg()
    results = {name: statistics.median(values) for name, values in times.items()}
    livekit = results["import livekit.agents"]
    print(f"{args.runs} runs each, interleaved; load avg {load0[0]:.2f} -> {load1[0]:.2f} "
          f"on {os.cpu_count()} cores")
    print(f"{'command':<40}{'median s':>10}{'vs livekit':>12}")
    for name, seconds in results.items():
        print(f"{name:<40}{seconds:>10.3f}{seconds / livekit:>11.1%}")
    print("target: avatarkit commands under 10% of the livekit import")


if __name__ == "__main__":
    main()
