"""`samplegan ui`: the MLflow UI and the Optuna dashboard on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import sys

import click

from harness.cli.options import storage_option, tracking_uri_option
from harness.tracking.store import MLFLOW_PORT
from harness.ui.servers import DASHBOARD_PORT


@click.command()
@click.option("--port", type=int, default=MLFLOW_PORT, show_default=True, help="MLflow UI port.")
@click.option("--dashboard-port", type=int, default=DASHBOARD_PORT, show_default=True,
              help="Optuna dashboard port (when optuna-dashboard is installed).")
@tracking_uri_option("MLflow backend store to browse, or a server's URL")
@storage_option()
def ui(port: int, dashboard_port: int, tracking_uri: str | None, storage: str | None) -> None:
    """Serve the MLflow UI (and the Optuna dashboard) on 127.0.0.1 until Ctrl-C."""
    from harness.ui.servers import serve

    sys.exit(serve(port=port, dashboard_port=dashboard_port, tracking_uri=tracking_uri, storage=storage))
