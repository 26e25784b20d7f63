"""Under daphne: autobahn's debug-log arguments formatted when a debug line is written, not on every call.

autobahn (daphne's WebSocket layer) builds the arguments of its debug log lines before calling the
logger, whatever the log level: ``pformat`` of the 29 protocol options on every new connection and
``hltype``/``hlval`` (a qualified name looked up and ANSI-styled through ``click.style``) on every
connection made, handshake, frame received and frame sent. With debug logging off, which is how
daphne runs, the logger drops them unread. A profile of 1,000 handshakes (py-spy on daphne,
bench/ws_fanout.py's connect phase, docs/operations.md) found that ``pformat`` alone was a tenth of
daphne's CPU time while clients connected, and the styling another few hundredths.

``defer_debug_formatting`` replaces those three names in autobahn's protocol modules with versions
that return a ``Deferred``: the same text, produced by the original function only when the log line
is formatted (``str.format`` calls ``__format__``). With debug logging on, the lines read as before.
The one use that is not a log argument, ``Timings.__str__`` (``return pformat(...)``), is made to
return the text itself.
Installed from ``devops_insights/asgi.py``; a process that has not imported daphne's server (a test,
a management command) is left alone, as realtime/transport.py does.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

# The autobahn modules whose debug lines build these arguments eagerly.
MODULES = ("autobahn.websocket.protocol", "autobahn.twisted.websocket")
NAMES = ("pformat", "hltype", "hlval")
_MARK = "devops_insights_deferred"


class Deferred:
    """``function(*args)`` as text, computed when it is first formatted."""

    __slots__ = ("args", "function", "text")

    def __init__(self, function: Callable[..., str], args: tuple[Any, ...]) -> None:
        self.function = function
        self.args = args
        self.text: str | None = None

    def __str__(self) -> str:
        if self.text is None:
            self.text = str(self.function(*self.args))
        return self.text

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __repr__(self) -> str:
        return str(self)


def _deferring(function: Callable[..., str]) -> Callable[..., Deferred]:
    def deferred(*args: Any) -> Deferred:
        return Deferred(function, args)

    setattr(deferred, _MARK, True)
    return deferred


def defer_debug_formatting() -> bool:
    """Defer autobahn's debug-argument formatting (see the module docstring). True when daphne is the server."""
    if "daphne.server" not in sys.modules:
        return False
    for module_name in MODULES:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for name in NAMES:
            function = getattr(module, name, None)
            if function is not None and not getattr(function, _MARK, False):
                setattr(module, name, _deferring(function))
    timings = getattr(sys.modules.get(MODULES[0]), "Timings", None)
    if timings is not None and not getattr(timings.__str__, _MARK, False):
        timings.__str__ = _as_text(timings.__str__)
    return True


def _as_text(method: Callable[[Any], object]) -> Callable[[Any], str]:
    def text(self: Any) -> str:
        return str(method(self))

    setattr(text, _MARK, True)
    return text
