"""The root `samplegan` group and the entry point; each command group lives in its own module.

Heavy imports (TensorFlow, MLflow, Optuna) happen inside the commands so that
`samplegan --help` and the data commands start fast.
"""

from __future__ import annotations

import sys

import click

from harness.cli.bench import bench
from harness.cli.compare import compare
from harness.cli.data import data
from harness.cli.diagnose import diagnose
from harness.cli.report import report
from harness.cli.runs import evaluate, generate, train
from harness.cli.study import study
from harness.cli.ui import ui
from harness.cli.variants import variants
from harness.common.quiet_tf import quiet_library_logging
from harness.common.signals import install_stop_handlers
from models.errors import SampleGanError

STOPPABLE_COMMANDS = ("train", "generate", "evaluate")  # they stop between steps on Ctrl-C / SIGTERM


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="samplegan-lab")
def cli() -> None:
    """Sample-GAN Lab: reproduce and ablate Sample-GAN, a raw-waveform music GAN.

    Typical session: `samplegan study run studies/smoke.toml`, then
    `samplegan report smoke`, then `samplegan ui` to browse the runs.
    """


for command in (data, variants, train, generate, evaluate, diagnose, compare, study, report, ui,
                bench):
    cli.add_command(command)


def usage_error_line(exc: click.UsageError) -> str:
    """Click's usage error as the one line every `samplegan` error is (click prints a usage
    block and a capitalised "Error:" line), naming the command's --help."""
    message = " ".join(exc.format_message().split("\n")).rstrip(".")
    command = exc.ctx.command_path if exc.ctx is not None else "samplegan"
    return f"error: {message[:1].lower()}{message[1:]}; see `{command} --help`"


def main() -> None:
    """Entry point: one-line errors and non-zero exits for bad input."""
    quiet_library_logging()
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in STOPPABLE_COMMANDS:
        # From the first moment: a Ctrl-C during start-up must not be lost (see harness/common/signals.py).
        install_stop_handlers()
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:  # click's wrapper around Ctrl-C
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        click.echo(usage_error_line(exc), err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except SampleGanError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("error: interrupted", err=True)
        sys.exit(130)
    except BaseException as exc:
        from harness.common.signals import Terminated

        if isinstance(exc, Terminated):
            click.echo("error: terminated", err=True)
            sys.exit(143)
        raise
