"""Run a Python module under a sampler of CPU time: a stack every time the process has used
another slice of CPU (``ITIMER_PROF``), never while it waits.

py-spy samples the server by the wall clock, and a thread that is ready to run but waits for a
core counts as busy where it waits: on a loaded 2-core machine py-spy put 60% of a read's
samples on the socket write that wakes the load generator (the server then waits for the core
the generator took), when that write was 10% of the server's CPU time (its system time). These
samples land where the CPU went. A signal handler records the main thread's Python stack (C
code, such as SQLite or the socket calls, is charged to the Python line that called it; the
kernel's tick decides the rate, 250 a second here).

    DOCKYARD_CPU_SAMPLES=/tmp/stacks.txt python -m bench.cpu_sampler dockyard server ...

Sampling starts and stops on ``SIGUSR2``; each stop (and the exit) writes the stacks so far,
collapsed (``frame;frame;... count``, as py-spy's raw format and ``bench.profile_server`` read).
"""

from __future__ import annotations

import atexit
import collections
import os
import runpy
import signal
import sys
from types import FrameType

_stacks: collections.Counter[str] = collections.Counter()
_on = False


def _sample(_signal: int, frame: FrameType | None) -> None:
    if not _on:
        return
    names = []
    while frame is not None:
        code = frame.f_code
        names.append(f"{code.co_qualname} ({code.co_filename}:{frame.f_lineno})")
        frame = frame.f_back
    _stacks[";".join(reversed(names))] += 1


def _toggle(_signal: int, _frame: FrameType | None) -> None:
    global _on
    _on = not _on
    if not _on:
        _write()


def _write() -> None:
    with open(os.environ["DOCKYARD_CPU_SAMPLES"], "w") as out:
        out.writelines(f"{stack} {count}\n" for stack, count in _stacks.items())


def main() -> None:
    signal.signal(signal.SIGPROF, _sample)
    signal.signal(signal.SIGUSR2, _toggle)
    signal.setitimer(signal.ITIMER_PROF, 0.001, 0.001)
    atexit.register(_write)
    sys.argv = sys.argv[1:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
