"""The one exception type the command line turns into a one-line error."""


class SampleGanError(Exception):
    """Bad input or an unusable store: the message says what is wrong and what to do next.

    The CLI prints ``error: <message>`` on one line and exits with status 2.
    """
