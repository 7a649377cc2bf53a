"""Where the machine's CPU went over a stretch of a benchmark, in cores busy.

Machine-wide from ``/proc/stat`` (user + system, and *steal*: time the hypervisor gave this
VM's virtual CPUs to someone else, which no process here can account for), and by group of
processes from their own CPU times: ``llama-server``, the browser (Chromium's processes),
Python (the playground server and the benchmark), everything else. A process that ends
between the two snapshots is left out of the groups (its time still counts machine-wide).

    before = snapshot(); ...; figures = since(before); print(describe(figures))
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

GROUPS = ("llama-server", "browser", "python", "other")


class Snapshot(NamedTuple):
    at: float
    machine: Any  # psutil's scputimes
    processes: dict[tuple[int, float], tuple[str, float]]  # (pid, started) -> (group, cpu s)


def _group(name: str) -> str:
    if name.startswith("llama-server"):
        return "llama-server"
    if "chrom" in name or "headless_shell" in name:
        return "browser"
    if name.startswith("python"):
        return "python"
    return "other"


def snapshot() -> Snapshot:
    import psutil

    processes = {}
    for proc in psutil.process_iter(["name", "create_time", "cpu_times"]):
        info = proc.info
        if info["cpu_times"] is None:
            continue
        cpu = info["cpu_times"].user + info["cpu_times"].system
        processes[(proc.pid, info["create_time"])] = (_group(info["name"] or ""), cpu)
    return Snapshot(time.monotonic(), psutil.cpu_times(), processes)


def since(before: Snapshot) -> dict[str, Any]:
    """Cores busy since ``before``: machine-wide (``busy``, ``steal``) and per group."""
    after = snapshot()
    wall = after.at - before.at
    m0, m1 = before.machine, after.machine

    def cores(field: str) -> float:
        return round((getattr(m1, field, 0.0) - getattr(m0, field, 0.0)) / wall, 3)

    groups = dict.fromkeys(GROUPS, 0.0)
    for key, (group, cpu) in after.processes.items():
        groups[group] += cpu - before.processes.get(key, (group, 0.0))[1]
    return {"seconds": round(wall, 1),
            "busy": round(sum(cores(f) for f in ("user", "nice", "system", "irq", "softirq")), 3),
            "steal": cores("steal"), "iowait": cores("iowait"),
            "groups": {g: round(v / wall, 3) for g, v in groups.items()}}


def describe(figures: dict[str, Any]) -> str:
    groups = ", ".join(f"{g} {v:.2f}" for g, v in figures["groups"].items())
    return (f"{figures['busy']:.2f} cores busy over {figures['seconds']:g} s "
            f"(steal {figures['steal']:.2f}, iowait {figures['iowait']:.2f}): {groups}")
