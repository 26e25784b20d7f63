"""bandit finds no high-severity issue in the project's code (also `make security`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.devops_insights.test_layers import APPS
from tests.paths import ROOT

# Every app of the layer rule: a new app is scanned the day it is added there.
PACKAGES = list(APPS)


def test_it_finds_no_high_severity_issue() -> None:
    bandit = shutil.which("bandit", path=str(Path(sys.executable).parent)) or "bandit"
    result = subprocess.run(
        [bandit, "-q", "-r", *PACKAGES, "-x", "*/migrations/*", "--severity-level", "high", "-f", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(result.stdout)
    high = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in report["results"]]
    assert high == [], "\n".join(high)
    assert result.returncode == 0, result.stderr
    # The scan looked at the code: an empty report from a scan of nothing would prove nothing.
    assert report["metrics"]["_totals"]["loc"] > 1000
