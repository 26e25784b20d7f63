"""The public page's rendered HTML, cached like every public answer of a page (statuspages/answers.py).

Rendering ninety bars per component is most of a cold request's time, and the HTML is the same for
every visitor allowed to see the page: it is cached per page, address root and preview, so a warm
request neither renders nor loads the content, and takes the HTML from the process's own copy.
"""

from __future__ import annotations

from django.template import loader

from statuspages.answers import cached_answer
from statuspages.content import PageContent
from statuspages.models import StatusPage


def page_html(page: StatusPage, root: str) -> bytes:
    """The page rendered for ``root`` (its address root, statuspages/public.py ``page_root``), UTF-8."""
    preview = not page.published
    return cached_answer(page, f"html:{root}:{int(preview)}", lambda content: _render(page, content, root, preview))


def _render(page: StatusPage, content: PageContent, root: str, preview: bool) -> bytes:
    # Without the request: no context processor runs, so nothing reads the session or the user and no
    # CSRF token can be asked for. The page is the same for every visitor allowed to see it.
    context = {"page": page, "content": content, "root": root, "preview": preview}
    return loader.render_to_string("statuspages/public/page.html", context).encode()
