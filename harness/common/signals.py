"""Stopping on Ctrl-C and SIGTERM at a safe point, so every run ends with a true status.

Python raises KeyboardInterrupt wherever the main thread happens to be when SIGINT
arrives, and TensorFlow's function tracing can swallow it there: the run would go on
as if nothing happened. Long-running commands therefore install `install_stop_handlers`:
the first SIGINT or SIGTERM only records the request, and loops call
`raise_if_stop_requested` between steps, where raising is safe. A second signal
raises at once, for a process that does not reach such a point.
"""

from __future__ import annotations

import contextlib
import signal


class Terminated(BaseException):  # noqa: N818 - mirrors KeyboardInterrupt
    """SIGTERM, raised like KeyboardInterrupt so runs end as KILLED, never left RUNNING."""


_requested: list[int] = []  # the signals received, in order


def _stop_error(signum: int) -> BaseException:
    if signum == signal.SIGINT:
        return KeyboardInterrupt()
    return Terminated(f"received signal {signum}")


def _handle(signum, frame) -> None:
    if _requested:  # asked twice: stop now, wherever we are
        raise _stop_error(signum)
    _requested.append(signum)


def install_stop_handlers() -> None:
    """Record SIGINT and SIGTERM as stop requests (only possible from the main thread)."""
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGINT, _handle)
        signal.signal(signal.SIGTERM, _handle)


def install_termination_handler() -> None:
    """Raise `Terminated` at once on SIGTERM: for simple loops such as the study launcher's,
    which have no TensorFlow tracing to lose it in."""

    def _raise(signum, frame):
        raise _stop_error(signum)

    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGTERM, _raise)


def stop_requested() -> bool:
    return bool(_requested)


def raise_if_stop_requested() -> None:
    """Raise KeyboardInterrupt (SIGINT) or Terminated (SIGTERM) if a stop was requested."""
    if _requested:
        raise _stop_error(_requested[0])
