"""The base of the project's error hierarchy: bad input the user can fix.

Its one home, for the models and the harness alike: it lives here, below everything, so that
the model layer can refuse a bad config or variant name without importing the harness. The
harness's own errors subclass it (`AudioDecodeError`, `SpecError`, `TrainingDiverged`,
`StoreMissing`, ...), and the CLI catches it.
"""


class SampleGanError(Exception):
    """Bad input or an unusable store: the message says what is wrong and what to do next.

    The CLI prints ``error: <message>`` on one line and exits with status 2.
    """
