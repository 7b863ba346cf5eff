"""The base of the project's error hierarchy: bad input the user can fix.

It lives here, below everything, so that the model layer can refuse a bad config or
variant name without importing the harness; `harness.common.errors` builds on it.
"""


class SampleGanError(Exception):
    """Bad input or an unusable store: the message says what is wrong and what to do next.

    The CLI prints ``error: <message>`` on one line and exits with status 2.
    """
