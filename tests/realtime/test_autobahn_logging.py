"""autobahn's debug-log arguments are formatted only when a debug line is written (realtime/autobahn_logging.py)."""

from __future__ import annotations

import importlib
import pprint
import sys
import types

import pytest

from realtime.autobahn_logging import MODULES, NAMES, defer_debug_formatting


class CountsReprs:
    """An argument that counts how often it was turned into text."""

    def __init__(self) -> None:
        self.reprs = 0

    def __repr__(self) -> str:
        self.reprs += 1
        return "counted"


@pytest.fixture
def autobahn(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """autobahn's protocol modules as daphne loads them, their names restored after the test."""
    modules = [importlib.import_module(name) for name in MODULES]
    for module in modules:
        for name in NAMES:
            if hasattr(module, name):
                monkeypatch.setattr(module, name, getattr(module, name))
    protocol = modules[0]
    monkeypatch.setattr(protocol.Timings, "__str__", protocol.Timings.__str__)
    # Importing daphne's server would install Twisted's reactor in the test process: stand in for it.
    monkeypatch.setitem(sys.modules, "daphne.server", sys.modules.get("daphne.server") or types.ModuleType("daphne"))
    return protocol


def test_it_formats_a_connections_options_only_when_the_debug_line_is_written(autobahn: types.ModuleType) -> None:
    assert defer_debug_formatting()
    options = [("openHandshakeTimeout", CountsReprs(), "WebSocketServerFactory")]

    argument = autobahn.pformat(options)

    assert options[0][1].reprs == 0
    assert f"\n{argument}" == "\n" + pprint.pformat(options)


def test_it_styles_a_name_only_when_the_debug_line_is_written(autobahn: types.ModuleType) -> None:
    assert defer_debug_formatting()
    value = CountsReprs()

    argument = autobahn.hlval(value)

    assert value.reprs == 0
    assert "counted" in f"{argument}"


def test_it_keeps_the_timings_text_a_string(autobahn: types.ModuleType) -> None:
    assert defer_debug_formatting()
    timings = autobahn.Timings()
    timings.track("onOpen")

    assert isinstance(str(timings), str)
    assert "onOpen" in str(timings)


def test_it_leaves_autobahn_alone_outside_daphne(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "daphne.server", raising=False)

    assert not defer_debug_formatting()
