"""What every ``/api/v1/`` operation does around ninja's own steps (auth, validation, the view, serialisation).

Before: ``api.access.admit`` (rate limits, credentials, CSRF, rights) and the refusal of query parameters the
operation does not declare. After: ETag / 304 (``api.conditional``), the caller's ``X-RateLimit-*`` budget,
and ``Vary`` / ``Cache-Control`` so no shared cache keeps one caller's answer for another.

``InsightsApi`` installs ``conventions`` on every operation as a ninja view decorator.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pydantic
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers
from ninja.errors import ValidationErrorContext
from ninja.operation import Operation

from api.access import Access, access_of, admit
from api.conditional import conditional
from api.errors import ApiError, field_errors
from api.params import declared_names, strays
from api.validation import FieldErrors, collect

Run = Callable[..., HttpResponseBase]


def conventions(run: Run) -> Run:
    """Wrap ``Operation.run``: ninja hands a view decorator the operation's bound ``run``, whose owner
    tells what the operation declares (its access, its query parameters)."""
    operation = getattr(run, "__self__", None)
    if not isinstance(operation, Operation):
        raise TypeError("conventions must be the first view decorator applied to an operation")
    access = access_of(operation.auth_callbacks)
    allowed = declared_names(operation.models)

    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            if access is not Access.PUBLIC:
                admit(request, access)
            refuse_strays(request, operation, allowed)
            response = run(request, *args, **kwargs)
        except ApiError as error:
            response = error.response()
        return finish(request, response)

    return wrapper


def refuse_strays(request: HttpRequest, operation: Operation, allowed: tuple[str, ...]) -> None:
    """A 400 for undeclared or repeated parameters, naming the other bad ones too, so one answer lists them all."""
    problems = strays(request, allowed)
    if not problems:
        return
    for model in operation.models:
        if model.__ninja_param_source__ != "query":
            continue
        try:
            model.resolve(request, operation.api, {})
        except pydantic.ValidationError as exc:
            translated = operation.api.validation_error_from_error_contexts([ValidationErrorContext(exc, model)])
            if isinstance(translated, FieldErrors):
                known = {name: found for name, found in translated.fields.items() if name not in problems}
                collect(((name, p) for name, found in known.items() for p in found), into=problems)
    raise field_errors(problems, "Some query parameters are invalid.")


def finish(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """The headers every API answer carries, whether an operation, an error or the document produced it."""
    response = conditional(request, response)
    usage = getattr(request, "rate_limit_usage", None)
    if usage is not None:
        for name, value in usage.headers().items():
            response.setdefault(name, value)
    patch_vary_headers(response, ("Authorization", "Cookie"))
    if not response.has_header("Cache-Control"):
        # Per caller, and always revalidated (the ETag makes that cheap).
        patch_cache_control(response, private=True, no_cache=True)
    return response
