"""harness.cli: options many commands take are declared once, in harness/cli/options.py."""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest

from harness.cli.root import cli

CLI = Path(__file__).resolve().parents[2] / "harness" / "cli"


def _declarations(option: str) -> list[str]:
    """Modules of harness/cli whose source holds the option's name as a string literal."""
    found = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value == option:
                found.append(path.name)
    return found


@pytest.mark.parametrize("option", ["--tracking-uri", "--storage", "--json", "--workers", "--gpus"])
def test_a_shared_option_is_declared_once(option):
    assert _declarations(option) == ["options.py"]


def _commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    found = {}
    for name, command in group.commands.items():
        found[prefix + name] = command
        if isinstance(command, click.Group):
            found.update(_commands(command, f"{prefix}{name} "))
    return found


def test_the_shared_options_reach_the_commands_of_the_contracts():
    commands = _commands(cli)
    takes = {name: {p.opts[0] for p in command.params if isinstance(p, click.Option)}
             for name, command in commands.items()}
    for name in ("train", "generate", "study run", "report", "ui"):
        assert "--tracking-uri" in takes[name], name
    for name in ("study run", "study plan", "study status", "report", "ui"):
        assert "--storage" in takes[name], name
    for name in ("variants", "diagnose", "study plan", "study status", "bench generation",
                 "data import", "data synth", "bench train"):
        assert "--json" in takes[name], name


@pytest.mark.parametrize(("args", "line"), [
    (["study", "plan", "spec.toml", "--workers", "0"],
     "error: invalid value for '--workers': 0 is not in the range x>=1; "
     "see `samplegan study plan --help`"),
    (["data", "synth", "--out", "out", "--seconds", "0"],
     "error: invalid value for '--seconds': 0.0 is not in the range x>=0.1; "
     "see `samplegan data synth --help`"),
    (["data", "synth", "--out", "out", "--sample-rate", "22050"],
     "error: invalid value for '--sample-rate': '22050' is not one of '16000', '44100'; "
     "see `samplegan data synth --help`"),
    (["train", "--data", "d"], "error: missing option '--variant'; see `samplegan train --help`"),
])
def test_a_usage_error_is_one_line_and_exit_2(tmp_path, cli, args, line):
    """Click's own three-line "Usage: ... Error: ..." block reads as the one line the README
    promises for every bad input."""
    completed = cli(*args, cwd=tmp_path)
    assert (completed.returncode, completed.stderr, completed.stdout) == (2, line + "\n", "")
    assert list(tmp_path.iterdir()) == []
