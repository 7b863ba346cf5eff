"""What machine this is: one description for run params, benchmarks and reports."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path


def processor_name() -> str:
    """The CPU model (e.g. ``AMD EPYC 7B13``), else what `platform` knows (e.g. ``x86_64``)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info() -> dict[str, str]:
    """The machine a run trains on, as MLflow params: CPUs, platform, processor, visible GPUs."""
    gpus = "unknown"
    if "tensorflow" in sys.modules:  # never import TensorFlow just to describe the machine
        import tensorflow as tf

        devices = tf.config.list_physical_devices("GPU")
        names = [tf.config.experimental.get_device_details(device).get("device_name", device.name)
                 for device in devices]
        gpus = ", ".join(names) or "none"
    return {
        "host.cpus": str(os.cpu_count()),
        "host.platform": platform.platform(),
        "host.processor": processor_name(),
        "host.gpus": gpus,
        "host.cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", "unset"),
    }
