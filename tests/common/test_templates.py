"""The HTML templates: found through the package from any working directory, strict on names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from harness.common.templates import environment

REPO = Path(__file__).resolve().parents[2]
# Loads both pages' templates and renders a report in the working directory it is run in.
_RENDER = """
from pathlib import Path
from harness.common.templates import environment
from harness.report.document import REPORT_TEMPLATE, Document
from harness.tracking.run_page import RUN_PAGE_TEMPLATE
environment("harness.tracking").get_template(RUN_PAGE_TEMPLATE)
environment("harness.report").get_template(REPORT_TEMPLATE)
print(Document("Found").html(Path(".")))
"""


@pytest.mark.slow
def test_the_templates_are_found_from_another_working_directory(tmp_path: Path) -> None:
    completed = subprocess.run([sys.executable, "-c", _RENDER], cwd=tmp_path,
                               env={**os.environ, "PYTHONPATH": str(REPO)},
                               capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    assert "<h1>Found</h1>" in completed.stdout


def test_a_name_the_template_is_not_given_fails_the_render() -> None:
    template = environment("harness.report").from_string("<p>{{ caption }}</p>")
    assert template.render(caption="<b>") == "<p>&lt;b&gt;</p>"
    with pytest.raises(jinja2.UndefinedError, match="caption"):
        template.render()
