"""The hash-pinned locks stay in step with the requirements they are compiled from (``make lock``).

A package added to ``requirements/base.txt`` or ``dev.txt`` without re-locking, a lock pin outside
the range its input allows, or a pin without a hash fails here, with the fix: run ``make lock``.
The Docker build and ``make install`` install from the locks with ``--require-hashes``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "requirements"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
_HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


@dataclass
class Pin:
    version: str
    hashes: list[str] = field(default_factory=list)


def top_level_requirements(path: Path) -> list[Requirement]:
    """The requirements a .txt input names itself and through ``-r`` includes, markers for this Python kept."""
    found: list[Requirement] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")):
            found += top_level_requirements(path.parent / line.split(maxsplit=1)[1])
            continue
        if line.startswith("-"):
            continue  # other pip options (-c, --index-url) pin nothing
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            found.append(requirement)
    return found


def locked_pins(path: Path) -> dict[str, Pin]:
    """Every ``name==version`` of a pip-compile lock with the hashes on its continuation lines."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            current = pins[canonicalize_name(match.group(1))] = Pin(match.group(2))
        elif current is not None and line.startswith(" "):
            current.hashes += _HASH.findall(line)
        else:
            current = None
    return pins


def lock_problems(inputs: Path, lock: Path) -> list[str]:
    pins = locked_pins(lock)
    problems = [f"{name}=={pin.version} has no --hash" for name, pin in sorted(pins.items()) if not pin.hashes]
    for requirement in top_level_requirements(inputs):
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{requirement.name} is not pinned")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{requirement.name}=={pin.version} is outside {requirement.specifier}")
    if not problems:
        return []
    return [f"{lock.name} is out of step with {inputs.name}: {'; '.join(problems)}; run make lock"]


def test_it_pins_every_runtime_requirement_with_hashes() -> None:
    assert lock_problems(REQUIREMENTS / "base.txt", REQUIREMENTS / "base.lock") == []


def test_it_pins_every_development_requirement_with_hashes() -> None:
    assert lock_problems(REQUIREMENTS / "dev.txt", REQUIREMENTS / "dev.lock") == []


def test_it_pins_the_runtime_packages_alike_in_both_locks() -> None:
    base = locked_pins(REQUIREMENTS / "base.lock")
    dev = locked_pins(REQUIREMENTS / "dev.lock")

    assert base, "requirements/base.lock pins nothing"
    differing = {name: (pin.version, dev[name].version if name in dev else None) for name, pin in base.items()}
    assert {name: v for name, v in differing.items() if v[0] != v[1]} == {}, "run make lock"


def test_it_reports_a_requirement_added_or_changed_without_relocking(tmp_path: Path) -> None:
    lock = tmp_path / "base.lock"
    lock.write_text((REQUIREMENTS / "base.lock").read_text(encoding="utf-8"), encoding="utf-8")
    inputs = tmp_path / "base.txt"
    original = (REQUIREMENTS / "base.txt").read_text(encoding="utf-8")
    django = locked_pins(lock)["django"].version
    inputs.write_text(original, encoding="utf-8")
    assert lock_problems(inputs, lock) == []

    # A made-up name: a real package here (brotli once was) is pinned in the lock and would not show the error.
    inputs.write_text(original + "not-a-locked-package~=1.1  # a new runtime package\n", encoding="utf-8")
    assert lock_problems(inputs, lock) == [
        "base.lock is out of step with base.txt: not-a-locked-package is not pinned; run make lock"
    ]

    major = int(django.split(".")[0])
    inputs.write_text(re.sub(r"(?im)^django~=\S+", f"Django~={major + 1}.0", original), encoding="utf-8")
    assert lock_problems(inputs, lock) == [
        f"base.lock is out of step with base.txt: Django=={django} is outside ~={major + 1}.0; run make lock"
    ]

    inputs.write_text(original, encoding="utf-8")
    unhashed = re.sub(r"(?m)^(django==\S+) \\\n(?:    --hash=\S+ \\\n)*    --hash=\S+\n", r"\1\n", lock.read_text())
    lock.write_text(unhashed, encoding="utf-8")
    assert lock_problems(inputs, lock) == [
        f"base.lock is out of step with base.txt: django=={django} has no --hash; run make lock"
    ]


def test_it_keeps_no_machine_specific_index_or_path_in_the_locks() -> None:
    for lock in (REQUIREMENTS / "base.lock", REQUIREMENTS / "dev.lock"):
        text = lock.read_text(encoding="utf-8")
        for marker in ("--index-url", "--extra-index-url", "--find-links", "file://", "/opt/", "/work/"):
            assert marker not in text, f"{lock.name} names {marker!r}: regenerate it with make lock"
        assert "#    make lock" in text, f"{lock.name} was not written by make lock"


def test_it_installs_from_the_locks_with_hashes_in_the_image_compose_and_make_install() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    (default,) = re.findall(r"^ARG REQUIREMENTS=(\S+)", dockerfile, re.M)
    assert default == "requirements/base.lock"
    (wheel,) = re.findall(r"^RUN pip wheel .*$", dockerfile, re.M)
    (install,) = re.findall(r"^RUN pip install .*$", dockerfile, re.M)
    for option in ("--require-hashes", "-r ${REQUIREMENTS}"):
        assert option in wheel
        assert option in install
    assert "--no-index" in install
    assert "REQUIREMENTS: requirements/base.lock" in (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"pip install .*--require-hashes -r requirements/dev\.lock", makefile)
