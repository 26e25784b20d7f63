"""Markdown from a team reaches visitors as sanitised HTML: formatting kept, script never."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from statuspages.markdown import TAGS, plain, render


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def test_it_renders_everyday_formatting() -> None:
    html = render("# Cause\n\nThe **database** was *slow*; see [the post](https://example.com/p).\n\n- one\n- two")
    assert "<h3>Cause</h3>" in html
    assert "<strong>database</strong>" in html
    assert "<em>slow</em>" in html
    assert '<a href="https://example.com/p" rel="nofollow noopener noreferrer">the post</a>' in html
    assert "<li>one</li>" in html


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](&#106;avascript:alert(1))",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        '<svg onload="alert(1)"></svg>',
        '<iframe src="https://evil.example"></iframe>',
        "<style>body{display:none}</style>",
        '[x](https://ok.example "t" onmouseover="alert(1)")',
        "<<script>script>alert(1)<</script>/script>",
    ],
)
def test_it_lets_no_script_through(attack: str) -> None:
    elements = Elements()
    elements.feed(str(render(f"before {attack} after")))
    for tag, attrs in elements.found:
        assert tag in TAGS
        for name, value in attrs:
            assert not name.startswith("on")
            assert name not in {"style", "src", "srcdoc"}
            if name == "href":
                assert (value or "").split(":")[0].lower() in {"http", "https", "mailto"} or ":" not in (value or "")


def test_it_shows_typed_html_as_text_not_markup() -> None:
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in render("<script>alert(1)</script>")


def test_it_bounds_the_work_on_huge_input() -> None:
    assert len(render("a" * 1_000_000)) < 25_000


def test_it_gives_plain_text_for_feeds_and_titles() -> None:
    assert plain("**Fixed** the <b>cache</b>\n\nsoon") == "Fixed the <b>cache</b> soon"
    assert plain("x" * 500, limit=10) == "x" * 9 + "…"
