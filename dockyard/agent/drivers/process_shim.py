"""Runs one command and writes its exit code to a file: the parent of a process-driver task.

Started (``python -S process_shim.py EXIT_FILE -- ARGV...``) in a session of its own, so
the agent can restart and still learn the exit code of a command it no longer parents.
Stop signals sent to the session reach the command; this process waits for it.
Standard library only, and no package imports: it must start fast and alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def main(argv: list[str]) -> int:
    exit_file, separator, command = argv[0], argv[1], argv[2:]
    assert separator == "--" and command, "usage: process_shim.py EXIT_FILE -- ARGV..."
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        # A handler, not SIG_IGN: the command gets the default disposition back at exec.
        signal.signal(number, lambda *_: None)
    try:
        child = subprocess.Popen(command)
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
