"""The status of a page that shows a form: 400 when it shows the form again because its submission was refused.

Every page the product's people fill in answers so (the source and alert forms, the status page management
forms, the team and token pages, the password page and django-allauth's account pages): a browser shows the
page and its errors all the same, while a script, a test or an access log tells a refused submission from a
page merely shown. A submission taken and shown again (the source form's Test) is not refused: 200.
Class-based form views (the password page, allauth's) answer so through ``RefusedFormStatus``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.http import HttpResponse

if TYPE_CHECKING:
    from django.views.generic.edit import FormMixin

    FormView = FormMixin[Any]
else:
    # Not FormMixin itself at run time: put before a view that has a form_invalid of its own but is no FormMixin
    # (allauth's second-factor page), it would bring FormMixin's get_context_data and get_form in first.
    FormView = object

REFUSED = 400


def form_status(form: forms.BaseForm | None) -> int:
    """400 when ``form`` holds errors, else 200 (no form, an unbound one, or one that validated)."""
    return REFUSED if form is not None and form.errors else 200


class RefusedFormStatus(FormView):
    """A mixin put before a view's own classes (a FormView, or any view with a ``form_invalid``): its refused
    form's page answers ``form_status``."""

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        # Only the form shown again: some of allauth's views answer a refusal with a redirect (a passkey login
        # refused goes back to the login page, the last attempt allowed to the start), which stays one.
        if response.status_code == 200:
            response.status_code = form_status(form)
        return response
