"""The Dashboards settings block: bad values fail in one line, the CSP can run report-only."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.run_manage import assert_one_line_error, run_manage

PRINT_CSP = (
    "from django.conf import settings; "
    "print(sorted(k for k in dir(settings) if k.startswith('CONTENT_SECURITY_POLICY'))); "
    "print(settings.DASHBOARD_STALE_AFTER_INTERVALS)"
)


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("DASHBOARD_STALE_AFTER_INTERVALS", "two", "expected a whole number"),
        ("DASHBOARD_STALE_AFTER_INTERVALS", "0", "must be at least 1"),
        ("CSP_REPORT_ONLY", "sometimes", "expected true or false"),
    ],
)
def test_it_rejects_bad_dashboard_settings_in_one_line(tmp_path: Path, variable: str, value: str, words: str) -> None:
    assert_one_line_error(run_manage("check", env={variable: value}, tmp_path=tmp_path), variable, words)


def test_it_enforces_the_csp_unless_told_to_report_only(tmp_path: Path) -> None:
    enforced = run_manage("shell", "-v", "0", "-c", PRINT_CSP, env={}, tmp_path=tmp_path)
    assert enforced.stdout.splitlines() == ["['CONTENT_SECURITY_POLICY']", "2"], enforced.stderr
    env = {"CSP_REPORT_ONLY": "true", "DASHBOARD_STALE_AFTER_INTERVALS": "3"}
    report_only = run_manage("shell", "-v", "0", "-c", PRINT_CSP, env=env, tmp_path=tmp_path)
    assert report_only.stdout.splitlines() == ["['CONTENT_SECURITY_POLICY_REPORT_ONLY']", "3"], report_only.stderr
