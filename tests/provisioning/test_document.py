"""Reading the files: values as PyYAML's safe loader reads them, with each value's line kept by its path."""

from __future__ import annotations

import yaml

from provisioning.document import load

SCALARS = (
    "[yes, No, ON, off, Null, NULL, null, ~, '', 1, -1.5, +3, .inf, .NaN, 0x1F, 0o17, 1_000, 2026-01-01, "
    "2026-01-01T10:00:00Z, hello, True, y, n, Yes2, nan, NuLL, '1', \"yes\", cpu_load, eu-central]"
)


def test_it_reads_plain_values_exactly_as_pyyaml_does() -> None:
    text = f"teams: [{{slug: a, name: {SCALARS}}}]\n"
    document = load({"t.yaml": text}, ["teams"])
    assert document.problems == []
    read = document.sections["teams"][0]["name"]
    expected = yaml.safe_load(text)["teams"][0]["name"]
    assert [(type(v), v) for v in read if v == v] == [(type(v), v) for v in expected if v == v]  # NaN != NaN
    assert len(read) == len(expected)


def test_it_keeps_each_values_line_across_merged_files() -> None:
    document = load(
        {"a.yaml": "teams:\n  - slug: a\n    name: A\n", "b.yaml": "# b\nteams:\n  - slug: b\n\n    name: B\n"},
        ["teams"],
    )
    assert document.mark(("teams", 1, "name")).file == "b.yaml"
    assert document.mark(("teams", 1, "name")).line == 5
    assert document.mark(("teams", 0, "name")).line == 3
