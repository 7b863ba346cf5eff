"""The one exception type the command line turns into a one-line error.

It is defined in `models.errors`, below the harness, so that the model layer can refuse
a bad config without importing the harness. The harness's own errors subclass it
(`AudioDecodeError`, `SpecError`, `TrainingDiverged`), and the CLI catches it.
"""

from models.errors import SampleGanError

__all__ = ["SampleGanError"]
