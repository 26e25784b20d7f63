"""The README's Layout section matches the tree: every top-level folder is named there, and every
folder it names exists."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

_FOLDER = re.compile(r"`(\.?[A-Za-z0-9_-]+)/[^`]*`")


def layout_section(readme: str) -> str:
    match = re.search(r"^## Layout\s*$(.*?)(?=^## |\Z)", readme, re.M | re.S)
    assert match, "the README has no '## Layout' section"
    return match.group(1)


def named_folders(readme: str) -> set[str]:
    """Top-level folders the Layout section names, as `folder/` or `folder/...` in backticks."""
    return set(_FOLDER.findall(layout_section(readme)))


def ignored_names(root: Path) -> set[str]:
    """Plain names in .gitignore (`var/`, `.venv`): local state, not part of the layout."""
    gitignore = root / ".gitignore"
    names = {".git"}
    if gitignore.is_file():
        for line in gitignore.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and not any(c in line for c in "*?["):
                names.add(line.strip("/"))
    return names


def tree_folders(root: Path) -> set[str]:
    """Top-level folders of the repository, hidden ones and ignored local state left out."""
    ignored = ignored_names(root)
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and p.name not in ignored}


def layout_problems(root: Path) -> list[str]:
    named = named_folders((root / "README.md").read_text(encoding="utf-8"))
    problems = [f"README.md Layout: {name}/ is not described" for name in sorted(tree_folders(root) - named)]
    gone = sorted(name for name in named if not (root / name).is_dir())
    problems += [f"README.md Layout: names {name}/, which does not exist" for name in gone]
    return problems


def test_it_describes_every_top_level_folder_and_names_none_that_is_gone() -> None:
    assert layout_problems(ROOT) == []


def test_it_describes_every_django_app_of_the_project() -> None:
    named = named_folders((ROOT / "README.md").read_text(encoding="utf-8"))
    ours = {app for app in settings.INSTALLED_APPS if "." not in app and (ROOT / app / "apps.py").is_file()}

    assert ours, "no app of this project found in INSTALLED_APPS"
    assert ours - named == set()


def test_it_catches_an_undescribed_folder_and_a_described_folder_that_is_gone(tmp_path: Path) -> None:
    for folder in ("pollers", "newapp", "var"):
        (tmp_path / folder).mkdir()
    (tmp_path / ".gitignore").write_text("var/\n*.pyc\n", encoding="utf-8")
    (tmp_path / "README.md").write_text(
        "# X\n\n## Layout\n\n- `pollers/`: polling.\n- `oldapp/`: gone.\n\n## Next\n\n`newapp/` outside the section\n",
        encoding="utf-8",
    )

    assert layout_problems(tmp_path) == [
        "README.md Layout: newapp/ is not described",
        "README.md Layout: names oldapp/, which does not exist",
    ]
