"""django-allauth's pages (the URLconf the project includes under /accounts/), each of its form views answering
400 when it shows its form again refused.

allauth's views answer 200 to a refused form (a wrong password, a wrong code) and allauth offers no hook for
the status of a page: its adapter's ``ajax_response`` shapes only the answers to AJAX requests, and
``ACCOUNT_FORMS`` swaps forms, not views. So the URLs the project includes are allauth's own, each form view
(every view with a ``form_invalid``) replaced by a subclass of it that puts
``accounts.refused_forms.RefusedFormStatus`` first: the same paths, names, initial arguments and decorators
(allauth puts them on ``dispatch``), and the status decided by ``form_status`` like every form of the product.
A view wrapped in a decorator outside ``as_view`` is kept as it is (its subclass would lose the decorator);
``tests/accounts/test_refused_allauth_forms.py`` fails on one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from allauth import urls as allauth_urls
from django.urls import URLPattern, URLResolver
from django.views import View

from accounts.refused_forms import RefusedFormStatus

Patterns = Sequence[URLPattern | URLResolver]

# The code of the function ``as_view`` returns: a callback with other code is a decorator around it.
_AS_VIEW_CODE = View.as_view().__code__


def refusing_with_400(view: Callable[..., Any]) -> Callable[..., Any]:
    """``view`` (a callback from ``as_view``) as a view answering 400 to a refused form, if it shows a form."""
    view_class = getattr(view, "view_class", None)
    if (
        view_class is None
        or not callable(getattr(view_class, "form_invalid", None))
        or issubclass(view_class, RefusedFormStatus)
        or getattr(view, "__code__", None) is not _AS_VIEW_CODE
    ):
        return view
    refusing: type[View] = type(
        view_class.__name__, (RefusedFormStatus, view_class), {"__module__": view_class.__module__}
    )
    return refusing.as_view(**getattr(view, "view_initkwargs", {}))


def patterns_refusing_with_400(patterns: Patterns) -> list[URLPattern | URLResolver]:
    """``patterns`` (and the patterns they include) with every form view answering 400 to a refused form."""
    rebuilt: list[URLPattern | URLResolver] = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            included = patterns_refusing_with_400(pattern.url_patterns)
            rebuilt.append(
                URLResolver(pattern.pattern, included, pattern.default_kwargs, pattern.app_name, pattern.namespace)
            )
        else:
            callback = refusing_with_400(pattern.callback)
            rebuilt.append(URLPattern(pattern.pattern, callback, pattern.default_args, pattern.name))
    return rebuilt


urlpatterns = patterns_refusing_with_400(allauth_urls.urlpatterns)
