from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from statuspages.badges import (
    GREEN,
    GREY,
    MAX_TEXT_CHARS,
    PADDING_PX,
    RED,
    Badge,
    clean_text,
    format_latency,
    format_uptime,
    latency_colour,
    text_width,
    uptime_colour,
)
from tests.statuspages.support import parse_xml
from tools.badge_font_widths import DEFAULT_FONT, advance_widths

SVG = "{http://www.w3.org/2000/svg}"


def parse(badge: Badge) -> ET.Element:
    return parse_xml(badge.svg())


def test_it_measures_with_the_real_font_advance_widths() -> None:
    if not DEFAULT_FONT.exists():
        pytest.skip(f"{DEFAULT_FONT} not installed")
    units_per_em, widths = advance_widths(DEFAULT_FONT)
    for char in "Aa0 %.WiÅé€ЖΩ":
        assert text_width(char, units_per_em) == pytest.approx(widths[ord(char)])


def test_it_grows_width_with_every_appended_character() -> None:
    text = ""
    previous = text_width(text)
    for char in "operational 99.95% ms Ωé日本":
        text += char
        width = text_width(text)
        assert width > previous, repr(text)
        previous = width


def test_it_makes_wide_text_wider_than_narrow_text_of_the_same_length() -> None:
    assert text_width("WWWWWWWW") > text_width("iiiiiiii") * 2


def test_it_sizes_the_boxes_from_the_measured_text() -> None:
    short, long = Badge("status", "up", GREEN), Badge("status", "partial outage", GREEN)
    short_width, long_width = int(parse(short).get("width") or 0), int(parse(long).get("width") or 0)
    assert long_width - short_width >= int(text_width("partial outage") - text_width("up")) - 1
    rects = parse(long).findall(f"{SVG}g/{SVG}rect")
    label_box = int(rects[0].get("width") or 0)
    assert label_box >= text_width("status") + 2 * PADDING_PX
    assert label_box + int(rects[1].get("width") or 0) == long_width


def test_it_gives_characters_the_font_lacks_a_width_by_kind() -> None:
    assert text_width("日本") == pytest.approx(22.0)  # wide East Asian: one em each at 11 px
    assert text_width("e\u0301") == text_width("e")  # a combining mark adds nothing
    assert text_width("\U0001f600") > 0  # an emoji outside the font still gets a box


def test_it_escapes_markup_in_label_and_value() -> None:
    badge = Badge('<script>alert("x")</script>', "a & b ' <c>", '"><script>')
    svg = badge.svg()
    assert "<script>" not in svg
    root = parse_xml(svg)  # still well-formed XML
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert '<script>alert("x")</script>' in texts
    assert "a & b ' <c>" in texts
    assert root.findall(f"{SVG}g/{SVG}rect")[1].get("fill") == '"><script>'


def test_it_keeps_non_ascii_text_and_declares_it_in_the_title() -> None:
    root = parse(Badge("état", "opérationnel ✓ 日本", GREEN))
    assert root.findtext(f"{SVG}title") == "état: opérationnel ✓ 日本"
    assert root.get("aria-label") == "état: opérationnel ✓ 日本"


def test_it_drops_characters_xml_cannot_carry_and_bounds_the_length() -> None:
    assert clean_text("a\x00b\x1bc\ufffe\n d") == "abc d"
    long = clean_text("x" * 1000)
    assert len(long) == MAX_TEXT_CHARS
    assert long.endswith("\u2026")
    parse_xml(Badge("\x00\x08", "\ud800 ok", GREEN).svg())


def test_it_changes_the_etag_with_the_content() -> None:
    assert Badge("a", "b", GREEN).etag() == Badge("a", "b", GREEN).etag()
    assert Badge("a", "b", GREEN).etag() != Badge("a", "c", GREEN).etag()
    assert Badge("a", "b", GREEN).etag() != Badge("a", "b", RED).etag()


def test_it_colours_and_formats_by_threshold() -> None:
    assert uptime_colour(None) == GREY
    assert uptime_colour(99.95) == GREEN
    assert uptime_colour(42.0) == RED
    assert latency_colour(120) == GREEN
    assert latency_colour(5000) == RED
    assert format_uptime(99.996) == "99.99%"  # never rounded up to a perfect record
    assert format_uptime(100.0) == "100%"
    assert format_uptime(None) == "no data"
    assert format_latency(87.4) == "87 ms"
    assert format_latency(1530) == "1.53 s"
