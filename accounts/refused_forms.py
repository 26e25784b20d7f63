"""The status of a page that shows a form: 400 when it shows the form again because its submission was refused.

Every page the product's people fill in answers so (the source and alert forms, the status page management
forms, the team and token pages): a browser shows the page and its errors all the same, while a script, a
test or an access log tells a refused submission from a page merely shown. A submission taken and shown
again (the source form's Test) is not refused: 200.
"""

from __future__ import annotations

from django import forms

REFUSED = 400


def form_status(form: forms.BaseForm | None) -> int:
    """400 when ``form`` holds errors, else 200 (no form, an unbound one, or one that validated)."""
    return REFUSED if form is not None and form.errors else 200
