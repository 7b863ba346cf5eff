"""Quiet third-party libraries: TensorFlow's C++ start-up chatter, MLflow's INFO lines.

TensorFlow's native libraries log a few lines (CUDA probing, CPU features) through absl
before `TF_CPP_MIN_LOG_LEVEL` takes effect. Commands that will use TensorFlow import it
here first, with file descriptor 2 pointed at /dev/null for the duration of the import.
An import error is still raised, and shown, after stderr is restored.
"""

from __future__ import annotations

import logging
import os
import sys


def import_tensorflow_quietly() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
        import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)
    tf.get_logger().setLevel(logging.ERROR)


def quiet_library_logging() -> None:
    """Defaults for our processes: no per-migration MLflow/alembic INFO lines, no telemetry."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # opt in by setting it to false
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # report downloads
    logging.getLogger("alembic").setLevel(logging.WARNING)
