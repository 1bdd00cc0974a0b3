"""Runs one command and writes its exit code to a file: the parent of a process-driver task.

``python -S process_shim.py EXIT_FILE LOG_FILE -- ARGV...`` forks; the fork starts a session
of its own (so the agent's exit or a terminal's Ctrl-C does not reach it), reports its pid
and its start time (``PID TICKS``) on stdout once its signal handlers are in place, sends its
output to LOG_FILE, runs the command and writes the command's exit code to EXIT_FILE. The
start time comes from the shim itself: a command that ends at once takes the shim with it
before the agent could read ``/proc/PID/stat``, and a pid without its start time cannot be
told apart from a recycled one. The first process exits at once,
so the shim is nobody's child: an agent that restarted treats it exactly like one it started.
Standard library only, and no package imports: it must start fast and alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def start_ticks() -> str:
    """This process's start time in clock ticks since boot (field 22 of /proc/self/stat)."""
    with open("/proc/self/stat") as handle:
        stat = handle.read()
    return stat[stat.rindex(")") + 2 :].split()[19]  # the command name may hold spaces


def main(argv: list[str]) -> int:
    exit_file, log_file, separator, command = argv[0], argv[1], argv[2], argv[3:]
    assert separator == "--" and command, "usage: process_shim.py EXIT_FILE LOG_FILE -- ARGV..."
    # Signals sent to the group before the command runs would be lost with it (the agent may
    # stop a task the moment it learns the pid): keep them and pass them on once it runs.
    early: list[int] = []
    running = False

    def keep_until_running(number: int, _frame: object) -> None:
        if not running:
            early.append(number)

    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        # A handler, not SIG_IGN: the command gets the default disposition back at exec.
        signal.signal(number, keep_until_running)
    if os.fork():
        os._exit(0)
    os.setsid()
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.write(f"{os.getpid()} {start_ticks()}\n")
    sys.stdout.flush()
    os.dup2(log, 1)  # also closes the pipe the agent reads the pid from
    os.dup2(log, 2)
    os.close(log)
    try:
        child = subprocess.Popen(command)  # returns once the command has been exec'd
        running = True  # from here on the group's signals reach the command directly
        for received in early:
            child.send_signal(received)
        code = child.wait()
        code = 128 - code if code < 0 else code  # killed by signal N reads 128+N, as in a shell
    except OSError as error:
        print(f"{command[0]}: {error.strerror}", file=sys.stderr, flush=True)
        code = 127 if isinstance(error, FileNotFoundError) else 126
    temporary = exit_file + ".tmp"
    with open(temporary, "w") as handle:
        handle.write(str(code))
    os.replace(temporary, exit_file)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
