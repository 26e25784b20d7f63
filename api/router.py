"""The Router every ``/api/v1/`` resource module declares its operations on."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ninja import Router


class ApiRouter(Router):
    """A ninja Router with two house conventions: GET operations answer HEAD too (a GET without the body,
    RFC 9110), and an operation's summary is the first line of its view's docstring, the rest its description."""

    def get(self, path: str, **kwargs: Any) -> Callable[[Any], Any]:
        return self.api_operation(["GET", "HEAD"], path, **kwargs)

    def api_operation(self, methods: list[str], path: str, **kwargs: Any) -> Callable[[Any], Any]:
        register = super().api_operation

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            summary, _, description = (inspect.getdoc(view) or "").partition("\n")
            # Router.post() and its kind pass summary=None and description=None along when not given.
            kwargs["summary"] = kwargs.get("summary") or summary.strip() or None
            kwargs["description"] = kwargs.get("description") or description.strip() or None
            return register(methods, path, **kwargs)(view)

        return decorator
