"""``make sbom``: a CycloneDX JSON SBOM of the runtime dependencies, read from requirements/base.lock.

The test runs the Makefile's own recipe (``make -o install``: the venv is this one, already installed)
with the output redirected to a temporary file.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

ROOT = Path(__file__).resolve().parents[2]
BASE_LOCK = ROOT / "requirements" / "base.lock"


def locked() -> dict[str, tuple[str, set[str]]]:
    """name -> (version, sha256 hashes) of every pin in requirements/base.lock."""
    entries = re.findall(
        r"(?m)^([a-z0-9][a-z0-9._-]*)==(\S+)((?: \\\n    --hash=sha256:[0-9a-f]{64})+)", BASE_LOCK.read_text()
    )
    return {name: (version, set(re.findall(r"sha256:([0-9a-f]{64})", hashes))) for name, version, hashes in entries}


def make_sbom(output: Path) -> dict[str, Any]:
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-s",
            "-o",
            "install",
            "sbom",
            f"SBOM={output}",
            f"BIN={Path(sys.executable).parent}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    document: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    output = tmp_path_factory.mktemp("sbom") / "out" / "sbom.cdx.json"  # out/ does not exist: make creates it
    return output, make_sbom(output)


def test_it_writes_a_valid_cyclonedx_sbom_naming_the_pinned_django(written: tuple[Path, dict[str, Any]]) -> None:
    output, sbom = written

    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["specVersion"] == "1.6"
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(output.read_text(encoding="utf-8")) is None
    assert sbom["metadata"]["component"]["name"] == "devops-insights"
    django, django_hashes = locked()["django"]
    (component,) = [c for c in sbom["components"] if c["name"].lower() == "django"]
    assert component["version"] == django
    assert component["purl"] == f"pkg:pypi/django@{django}"
    hashes = {h["content"] for ref in component["externalReferences"] for h in ref.get("hashes", [])}
    assert hashes == django_hashes


def test_it_lists_exactly_the_runtime_lock_not_the_development_tools(written: tuple[Path, dict[str, Any]]) -> None:
    _, sbom = written

    components = {c["name"].lower(): c["version"] for c in sbom["components"]}
    runtime = {name: version for name, (version, _) in locked().items()}
    assert len(runtime) > 20, "the lock parse found too few pins"
    assert components == runtime
    assert "pytest" not in components
    assert "cyclonedx-bom" not in components


def test_it_gives_the_same_bytes_for_the_same_lock(written: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    first, _ = written
    make_sbom(tmp_path / "second.json")

    assert first.read_bytes() == (tmp_path / "second.json").read_bytes()
