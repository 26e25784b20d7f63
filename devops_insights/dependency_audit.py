"""``make audit``: pip-audit over the hash-pinned locks, with an exit status that says what happened.

pip-audit alone exits 1 both for a vulnerability and for a vulnerability database it could not reach
(a traceback), and a package the database has no answer for is only skipped: a run against a registry
mirror that does not serve the per-release JSON "passes" having checked nothing. Here:

- 0: every locked package was checked and none has a known vulnerability;
- 1: known vulnerabilities, listed with their ids and the versions that fix them;
- 2: the audit could not run (a missing lock file, a pip-audit error);
- 3: the vulnerability database could not be reached, or did not answer for some package: unknown, not a pass.

Usage: ``python -m devops_insights.dependency_audit [--cache-dir DIR] [--timeout S] [--ignore-vuln ID]... LOCK...``.
Proxies and CA bundles come from the environment (``HTTPS_PROXY``, ``REQUESTS_CA_BUNDLE``) as for pip-audit.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLEAN, VULNERABLE, FAILED, UNREACHABLE = 0, 1, 2, 3
SHOWN = 8  # unanswered packages named in the message; the rest are counted

# How the database being out of reach shows when pip-audit stops with a traceback or its own error.
_UNREACHABLE = re.compile(
    r"requests\.exceptions\.\w+|pip_audit\._service\.interface\.(?:Connection|Service)Error"
    r"|Could not connect to|not redirecting properly|may be blocking this service"
)
_CREDENTIALS = re.compile(r"//[^/@\s]+@")


@dataclass
class Outcome:
    status: int
    lines: list[str] = field(default_factory=list)


def redact(text: str) -> str:
    """A proxy URL in an error may carry a user and password: never print them."""
    return _CREDENTIALS.sub("//***@", text)


def pip_audit_argv(
    locks: list[Path], report: Path, cache_dir: Path | None, timeout: int, ignored: list[str]
) -> list[str]:
    argv = [sys.executable, "-m", "pip_audit", "--disable-pip", "--require-hashes", "--progress-spinner", "off"]
    argv += ["--vulnerability-service", "pypi", "--format", "json", "--output", str(report), "--timeout", str(timeout)]
    if cache_dir is not None:
        argv += ["--cache-dir", str(cache_dir)]
    for vulnerability in ignored:
        argv += ["--ignore-vuln", vulnerability]
    for lock in locks:
        argv += ["--requirement", str(lock)]
    return argv


def classify(returncode: int, report: dict[str, Any] | None, stderr: str) -> Outcome:
    """Turn pip-audit's exit status, JSON report and error output into one of the four outcomes."""
    if report is None:
        last = redact(stderr.strip().splitlines()[-1] if stderr.strip() else f"pip-audit exited {returncode}")
        if _UNREACHABLE.search(stderr):
            return Outcome(
                UNREACHABLE,
                [
                    f"audit: the vulnerability database could not be reached ({last}).",
                    "Nothing was checked: not a pass.",
                ],
            )
        return Outcome(FAILED, [f"audit: pip-audit failed: {last}"])

    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if "skip_reason" in d]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    lines = []
    for dependency in vulnerable:
        for vuln in dependency["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version yet"
            lines.append(f"{dependency['name']} {dependency['version']}: {vuln['id']} (fixed in {fixed})")
    if skipped:
        names = sorted(d["name"] for d in skipped)
        shown = ", ".join(names[:SHOWN]) + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")
        lines.append(
            f"audit: the vulnerability database did not answer for {len(skipped)} of {len(dependencies)} "
            f"locked packages ({shown}): they are unchecked, not a pass. First reason: {skipped[0]['skip_reason']}"
        )
    if vulnerable:
        count = sum(len(d["vulns"]) for d in vulnerable)
        lines.append(f"audit: {count} known vulnerabilities in {len(vulnerable)} locked packages.")
        return Outcome(VULNERABLE, lines)
    if skipped:
        return Outcome(UNREACHABLE, lines)
    if returncode != 0:
        return Outcome(FAILED, [f"audit: pip-audit exited {returncode}: {redact(stderr.strip())}"])
    return Outcome(CLEAN, [f"audit: no known vulnerabilities in {len(dependencies)} locked packages."])


def audit(
    locks: list[Path], cache_dir: Path | None = None, timeout: int = 15, ignored: list[str] | None = None
) -> Outcome:
    missing = [str(lock) for lock in locks if not lock.is_file()]
    if missing or not locks:
        return Outcome(FAILED, [f"audit: lock file not found: {', '.join(missing) or 'none given'} (run make lock)"])
    with tempfile.TemporaryDirectory(prefix="audit-") as scratch:
        report_path = Path(scratch) / "report.json"
        argv = pip_audit_argv(locks, report_path, cache_dir, timeout, ignored or [])
        try:
            # One request per package, each bounded by --timeout; the whole run is bounded too.
            done = subprocess.run(  # noqa: S603 - our own interpreter and pip-audit, no shell
                argv, capture_output=True, text=True, timeout=max(120, 20 * timeout), check=False
            )
        except subprocess.TimeoutExpired:
            return Outcome(UNREACHABLE, ["audit: the vulnerability database did not answer in time. Not a pass."])
        text = report_path.read_text(encoding="utf-8") if report_path.is_file() else ""
    report = json.loads(text) if text.strip() else None
    return classify(done.returncode, report, done.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devops_insights.dependency_audit",
        description="pip-audit over hash-pinned locks. Exit 0 clean, 1 vulnerable, 2 failed, 3 database unreachable.",
    )
    parser.add_argument("locks", nargs="*", type=Path, help="hash-pinned lock files (requirements/*.lock)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="pip-audit's HTTP cache (default: its own)")
    parser.add_argument("--timeout", type=int, default=15, help="seconds per request to the database")
    parser.add_argument(
        "--ignore-vuln",
        action="append",
        default=[],
        metavar="ID",
        help="a vulnerability id (or alias) accepted for now, with its reason in docs/supply-chain.md",
    )
    args = parser.parse_args(argv)
    outcome = audit(args.locks, args.cache_dir, args.timeout, args.ignore_vuln)
    stream = sys.stdout if outcome.status == CLEAN else sys.stderr
    for line in outcome.lines:
        print(line, file=stream)
    return outcome.status


if __name__ == "__main__":
    sys.exit(main())
