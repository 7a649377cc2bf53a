"""What a child process's exit status means, in words a user can act on."""

from __future__ import annotations

import signal

# signal -> (what happened, what to do); {cmd} is the command line to rerun by hand
_SIGNALS: dict[int, tuple[str, str]] = {
    signal.SIGILL: (
        "died with an illegal instruction (SIGILL): this build runs CPU instructions this "
        "machine does not execute",
        "rebuild llama.cpp portable (every CPU variant, the best one chosen at start): "
        "`bash scripts/setup.sh` in an avatarkit checkout does it; or set `base_url` to "
        "another OpenAI-compatible server (vLLM, Ollama, llama.cpp built here)",
    ),
    signal.SIGKILL: (
        "was killed (SIGKILL), most likely by the kernel's out-of-memory killer",
        "free some memory (SmolLM2 needs about 200 MB) and check `dmesg` for "
        "'Out of memory'",
    ),
    signal.SIGSEGV: (
        "crashed (SIGSEGV, a segmentation fault)",
        "its last output may say why; rerun it by hand to see more: {cmd}",
    ),
    signal.SIGBUS: (
        "crashed (SIGBUS, a bus error: often a model file that changed or was truncated "
        "while in use)",
        "check the model file; rerun it by hand to see more: {cmd}",
    ),
    signal.SIGFPE: (
        "crashed (SIGFPE, an arithmetic error)",
        "rerun it by hand to see more: {cmd}",
    ),
    signal.SIGABRT: (
        "aborted (SIGABRT, an internal check failed)",
        "its last output says which check; rerun it by hand to see more: {cmd}",
    ),
}


def describe_exit(returncode: int, cmd: str = "") -> tuple[str, str]:
    """``(what happened, what to do)`` for a process that ended with ``returncode``
    (negative: killed by that signal, as :mod:`subprocess` reports it)."""
    if returncode < 0:
        number = -returncode
        if number in _SIGNALS:
            what, fix = _SIGNALS[number]
            return what, fix.format(cmd=cmd)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return (f"was stopped by {name} from outside avatarkit",
                f"find what sends {name} to it; rerun it by hand to see more: {cmd}")
    return (f"exited with code {returncode}",
            f"its last output above says why; rerun it by hand to see more: {cmd}")
