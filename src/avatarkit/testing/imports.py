"""Import cost: importing a plugin module in a fresh interpreter is cheap."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from .contract import ContractError

HEAVY = ("livekit", "numpy", "onnxruntime", "av", "torch", "cv2", "PIL", "aiortc")
"""Top-level packages a plugin module must not import at module level."""

_PROBE = """
import json, sys, time
t0 = time.perf_counter()
import {module}
seconds = time.perf_counter() - t0
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
print(json.dumps({{"seconds": seconds, "heavy": heavy}}))
"""


@dataclass(frozen=True)
class ImportCost:
    """One import measured in a fresh interpreter (best of ``repeat``)."""

    module: str
    seconds: float
    heavy: tuple[str, ...]


def measure_import(module: str, *, python: str | None = None, repeat: int = 3) -> ImportCost:
    """Import ``module`` in a fresh interpreter ``repeat`` times; the fastest run."""
    runs = []
    for _ in range(repeat):
        out = subprocess.run([python or sys.executable, "-c",
                              _PROBE.format(module=module, heavy=HEAVY)],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise ContractError("import cost", f"importing {module} failed:\n{out.stderr}")
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = min(runs, key=lambda r: r["seconds"])
    return ImportCost(module, best["seconds"], tuple(best["heavy"]))


def check_import_cost(module: str, *, budget: float = 1.0,
                      python: str | None = None) -> ImportCost:
    """``import module`` imports none of :data:`HEAVY` and takes under ``budget`` seconds
    (it runs every time ``avatarkit plugins``, ``--help`` or a worker starts)."""
    cost = measure_import(module, python=python)
    if cost.heavy:
        raise ContractError("import cost: nothing heavy", f"importing {module} imports "
                            f"{', '.join(cost.heavy)}",
                            "import them inside start()/build()/prewarm(), not at module level")
    if cost.seconds > budget:
        raise ContractError("import cost: budget", f"importing {module} took "
                            f"{cost.seconds:.3f} s (budget {budget:g} s)",
                            "move slow work out of module level")
    return cost
