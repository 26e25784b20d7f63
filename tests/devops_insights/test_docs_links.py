"""Every relative link in README.md, CONTRIBUTING.md and docs/ resolves inside the repository.

A link to a file must name an existing file or folder of the repository; a ``#anchor`` into a markdown
file must name one of its headings, slugged the way GitHub does (lower case, punctuation dropped,
spaces to hyphens, ``-1``, ``-2`` for repeats). Links with a scheme (``https:``, ``mailto:``) are not
followed; an absolute path (``/api/v1/``) is refused, since on GitHub it leaves the repository.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"`+[^`]*`+")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def documentation_files(root: Path) -> list[Path]:
    files = [root / "README.md", root / "CONTRIBUTING.md", *sorted((root / "docs").rglob("*.md"))]
    return [path for path in files if path.is_file()]


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """Lines outside fenced code blocks, with their numbers."""
    lines = []
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if not in_fence:
            lines.append((number, line))
    return lines


def links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every inline link, image and reference definition outside code."""
    found = []
    for number, line in _prose_lines(text):
        definition = _REFERENCE_DEFINITION.match(line)
        if definition:
            found.append((number, definition.group(1)))
            continue
        prose = _CODE_SPAN.sub("", line)
        found.extend((number, match.group(1)) for match in _INLINE_LINK.finditer(prose))
    return found


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text, lower case, only word characters, spaces and hyphens kept."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading slugs as its text
    text = text.lower().strip()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(text: str) -> set[str]:
    result: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _prose_lines(text):
        match = _HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def broken_links(root: Path, files: list[Path]) -> list[str]:
    """One line per link that does not resolve: file, line, target and why."""
    problems = []
    anchor_cache: dict[Path, set[str]] = {}
    root = root.resolve()
    for path in files:
        text = path.read_text(encoding="utf-8")
        where = path.relative_to(root)
        for number, target in links(text):
            if not target or _SCHEME.match(target) or target.startswith("//"):
                continue
            if target.startswith("/"):
                problems.append(f"{where}:{number}: {target} is an absolute path; link relative to the file")
                continue
            file_part, _, anchor = target.partition("#")
            file_part = unquote(file_part.split("?", 1)[0])
            destination = (path.parent / file_part).resolve() if file_part else path.resolve()
            if not destination.is_relative_to(root):
                problems.append(f"{where}:{number}: {target} points outside the repository")
                continue
            if not destination.exists():
                problems.append(f"{where}:{number}: {target}: no such file")
                continue
            if anchor and destination.suffix == ".md":
                if destination not in anchor_cache:
                    anchor_cache[destination] = anchors(destination.read_text(encoding="utf-8"))
                if unquote(anchor).lower() not in anchor_cache[destination]:
                    problems.append(f"{where}:{number}: {target}: no heading with the anchor #{anchor}")
    return problems


def test_it_resolves_every_relative_link_in_the_documentation() -> None:
    files = documentation_files(ROOT)
    assert ROOT / "README.md" in files
    assert len(files) > 3, "docs/ holds the reference; finding no file there means the test looks in the wrong place"

    problems = broken_links(ROOT, files)

    assert problems == [], "\n".join(problems)


def test_it_catches_a_missing_file_a_missing_heading_and_a_way_out(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## Set it up\n\nText.\n", encoding="utf-8")
    (tmp_path / "CONTRIBUTING.md").write_text("# Contributing\n", encoding="utf-8")
    (tmp_path / "README.md").write_text(
        "# Readme\n\n"
        "Good: [guide](docs/guide.md), [section](docs/guide.md#set-it-up), [here](#readme), "
        "[site](https://example.com/missing).\n"
        "Bad: [gone](docs/missing.md) and [no section](docs/guide.md#tear-it-down).\n"
        "Out: [elsewhere](../outside/notes.md), [root](/api/v1/docs).\n"
        "```\n[in code](docs/not-checked.md)\n```\n",
        encoding="utf-8",
    )

    problems = broken_links(tmp_path, documentation_files(tmp_path))

    assert problems == [
        "README.md:4: docs/missing.md: no such file",
        "README.md:4: docs/guide.md#tear-it-down: no heading with the anchor #tear-it-down",
        "README.md:5: ../outside/notes.md points outside the repository",
        "README.md:5: /api/v1/docs is an absolute path; link relative to the file",
    ]


def test_it_slugs_headings_as_github_does() -> None:
    text = (
        "# API, login throttling, CORS\n## `subscribe`\n## Real-time\n## Notes\n## Notes\n```sh\n# not a heading\n```\n"
    )

    assert anchors(text) == {"api-login-throttling-cors", "subscribe", "real-time", "notes", "notes-1"}
