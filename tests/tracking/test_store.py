"""MLflow tracking against real stores: what a run records, and a status that tells the truth."""

from __future__ import annotations



