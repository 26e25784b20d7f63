"""The public face: a status page, its JSON state (for the page's own refresh script), its password form.

Served at ``/status/<slug>/`` and, on a page's custom host, at ``/`` (statuspages/hosts.py). Safe in
public: the templates stand alone (no navigation, no admin link, no CSRF token), no session is read for a
public page and none is ever written, every response carries a strict Content-Security-Policy, and each
client IP is rate limited. What is shown comes from statuspages/content.py only, and is cached like every
public answer of a page (statuspages/answers.py: a warm request opens no database connection); a cold one
that finds the database pool exhausted answers 503 with Retry-After (statuspages/busy.py).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template import loader
from django.utils.cache import patch_cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from statuspages import access, lookup
from statuspages.access import Access
from statuspages.answers import cached_answer
from statuspages.busy import degrade_when_busy
from statuspages.models import StatusPage, Visibility
from statuspages.page_html import page_html

# Nothing but our own script and styles; no frames, no plugins, no base tag, forms only to ourselves.
STRICT_CSP: dict[str, list[str]] = {
    "default-src": ["'none'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "font-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def page_root(request: HttpRequest, page: StatusPage) -> str:
    """Where the page lives for this request: ``/`` on its custom host, else ``/status/<slug>/``."""
    return "/" if getattr(request, "status_page_host", None) is not None else f"/status/{page.slug}/"


def _find(request: HttpRequest, slug: str | None) -> StatusPage:
    page = getattr(request, "status_page_host", None) if slug is None else lookup.by_slug(slug)
    if page is None:
        raise Http404("No such status page.")
    return page


def _strict(response: HttpResponse, page: StatusPage | None = None) -> HttpResponse:
    """The strict policy for this response (the logo's origin allowed when it is elsewhere)."""
    policy = {name: list(values) for name, values in STRICT_CSP.items()}
    origin = page.logo_origin() if page is not None else ""
    if origin:
        policy["img-src"].append(origin)
    response._csp_replace = policy  # type: ignore[attr-defined]  # read by django-csp's middleware
    return response


def _cache_headers(response: HttpResponse, page: StatusPage) -> HttpResponse:
    if page.published and page.visibility == Visibility.PUBLIC:
        patch_cache_control(response, public=True, max_age=15)
    else:
        patch_cache_control(response, private=True, no_store=True)
    return response


def _render(template: str, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    # Without the request: no context processor runs, so nothing reads the session or the user and no
    # CSRF token can be asked for. The page is the same for every visitor allowed to see it.
    return HttpResponse(loader.render_to_string(template, context), status=status)


def _too_many(wait: int) -> HttpResponse:
    response = HttpResponse(
        "Too many requests; try again in a moment.", status=429, content_type="text/plain; charset=utf-8"
    )
    response["Retry-After"] = str(wait)
    return _strict(response)


def _busy(message: str) -> HttpResponse:
    # The view's 503 when the database pool lent no connection in time (statuspages/busy.py).
    return _strict(HttpResponse(message, status=503, content_type="text/plain; charset=utf-8"))


def _gate(request: HttpRequest, slug: str | None) -> StatusPage | HttpResponse:
    """The page, or the response to give instead of it (rate limit, 404, login, password form)."""
    wait = access.over_public_limit(request)
    if wait is not None:
        return _too_many(wait)
    page = _find(request, slug)
    decision = access.decide(request, page)
    if decision is Access.NOT_FOUND:
        raise Http404("No such status page.")
    if decision is Access.NEEDS_LOGIN:
        return redirect_to_login(request.get_full_path())
    if decision is Access.NEEDS_PASSWORD:
        return _password_form(request, page, status=401)
    return page


def _password_form(request: HttpRequest, page: StatusPage, *, status: int = 200, error: str = "") -> HttpResponse:
    context = {"page": page, "root": page_root(request, page), "error": error}
    response = _render("statuspages/public/password.html", context, status=status)
    patch_cache_control(response, private=True, no_store=True)
    return _strict(response, page)


@require_GET
@degrade_when_busy(_busy)
def status_page(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    page = _gate(request, slug)
    if isinstance(page, HttpResponse):
        return page
    response = HttpResponse(page_html(page, page_root(request, page)), content_type="text/html; charset=utf-8")
    return _strict(_cache_headers(response, page), page)


@require_GET
@degrade_when_busy(_busy)
def status_state(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    """The page's state as JSON: what its script polls to refresh without a reload."""
    page = _gate(request, slug)
    if isinstance(page, HttpResponse):
        if page.status_code == 429:
            return page
        refused = JsonResponse({"error": "not_allowed"}, status=403)
        patch_cache_control(refused, private=True, no_store=True)
        return _strict(refused)
    body = cached_answer(page, "state.json", lambda content: json.dumps(content.state_document()).encode())
    return _strict(_cache_headers(HttpResponse(body, content_type="application/json"), page))


# No CSRF token on public pages: the form posts only a password, and a forged post could at worst
# unlock a page for a visitor who then sees what anyone with the password sees.
@csrf_exempt
@require_http_methods(["POST"])
@degrade_when_busy(_busy)
def status_unlock(request: HttpRequest, slug: str | None = None) -> HttpResponse:
    wait = access.over_public_limit(request)
    if wait is not None:
        return _too_many(wait)
    page = _find(request, slug)
    if not page.published or page.visibility != Visibility.PASSWORD:
        raise Http404("No such status page.")
    wait = access.over_password_limit(request, page)
    if wait is not None:
        response = _password_form(request, page, status=429, error="Too many tries. Wait a while and try again.")
        response["Retry-After"] = str(wait)
        return response
    password = str(request.POST.get("password", ""))[:200]
    if not page.check_password(password):
        return _password_form(request, page, status=401, error="That password is not right.")
    root = page_root(request, page)
    response = HttpResponse(status=303)
    response["Location"] = root
    access.set_unlocked(response, request, page, root)
    return _strict(response)
