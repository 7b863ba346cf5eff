"""Run a command that cannot outlive the process that started it, even one killed by SIGKILL.

    python -m harness.ui.process_guard COMMAND [ARG ...]

Start it with a pipe as stdin whose write end only the starting process holds, and in a
new session (`start_new_session=True`) so that it leads a process group of its own. The
guard runs COMMAND in that group and exits with its status when it ends. When the pipe
reaches end-of-file instead, the starting process is gone however it ended (the kernel
closes a killed process's files), and the guard stops its whole group: the command and
everything the command started, such as a server's workers, with SIGTERM, then SIGKILL
once the command has ended or after `GRACE_S`. Only the standard library, so it starts fast.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading

GRACE_S = 10.0  # for the command to stop on SIGTERM before the group is killed


def _stop_group(command: subprocess.Popen) -> None:
    """SIGTERM this process group, wait for the command, then SIGKILL the group (this guard
    too). Call from the main thread."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    group = os.getpgrp()
    os.killpg(group, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        command.wait(GRACE_S)
    os.killpg(group, signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    """Run the command under the guard; exits with its status (128 + N when killed by signal N)."""
    command_line = sys.argv[1:] if argv is None else argv
    if not command_line:
        sys.exit("usage: python -m harness.ui.process_guard COMMAND [ARG ...]")
    if os.getpgrp() != os.getpid():
        os.setpgid(0, 0)  # never signal the group of whoever started us
    command = subprocess.Popen(command_line, stdin=subprocess.DEVNULL)
    stopping = threading.Event()

    def exit_with_command() -> None:
        status = command.wait()
        if not stopping.is_set():  # else the group is being stopped: let that finish
            os._exit(status if status >= 0 else 128 - status)

    threading.Thread(target=exit_with_command, daemon=True, name="command").start()
    sys.stdin.buffer.read()  # nothing is ever written: this returns when the pipe closes
    stopping.set()
    _stop_group(command)  # in the main thread, which alone may change signal handling
    return 1


if __name__ == "__main__":
    sys.exit(main())
