"""Ctrl-C and SIGTERM are recorded and raised between steps; a second one raises at once."""

from __future__ import annotations

import os
import signal

import pytest

from harness.common import signals as stopping


@pytest.fixture
def handlers():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stopping._requested.clear()
    stopping.install_stop_handlers()
    yield
    stopping._requested.clear()
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_first_sigint_is_only_recorded_then_raised_at_the_safe_point(handlers):
    os.kill(os.getpid(), signal.SIGINT)  # delivered to this (main) thread before the next line
    assert stopping.stop_requested()
    with pytest.raises(KeyboardInterrupt):
        stopping.raise_if_stop_requested()


def test_sigterm_raises_terminated_and_a_second_signal_raises_at_once(handlers):
    os.kill(os.getpid(), signal.SIGTERM)
    with pytest.raises(stopping.Terminated):
        stopping.raise_if_stop_requested()
    with pytest.raises(stopping.Terminated):  # the handler raises right after os.kill returns
        os.kill(os.getpid(), signal.SIGTERM)


def test_nothing_is_raised_without_a_request(handlers):
    assert not stopping.stop_requested()
    stopping.raise_if_stop_requested()
