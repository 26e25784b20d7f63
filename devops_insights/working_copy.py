"""Editing a stored object through a ModelForm without naming the refused edit's values as the object's.

A ModelForm writes what was typed onto its instance while it validates, so a page that gave the form the
object it shows around it (heading, breadcrumb, title, "View the page" links) named a refused edit's unsaved
values as the object's. The pages' edit forms validate a working copy instead (``working_copy``), and so does
every change form of the Django admin built on ``WorkingCopyAdmin`` (its breadcrumb, title and heading named
the name typed in a refused change).

On the ground floor: every app's admin is built on it, ``metrics`` (which imports no app but
``observability``) as well as the apps above ``accounts``.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar, cast

from django import forms
from django.contrib import admin
from django.db import models

M = TypeVar("M", bound=models.Model)


def working_copy(obj: M) -> M:
    """A copy of the stored ``obj`` for an edit form to validate and save: ``obj`` keeps its stored values for
    the page around a refused form, while the form keeps what was typed."""
    # Model.__reduce__ copies its _state (and fields cache) too: the copy is the same row, still not adding.
    return copy.copy(obj)


class OnWorkingCopy(forms.ModelForm):
    """A ModelForm base put before a form's own: the form validates and saves a working copy of the ``instance``
    it is given."""

    def __init__(self, *args: Any, instance: models.Model | None = None, **kwargs: Any) -> None:
        kwargs["instance"] = working_copy(instance) if instance is not None else None
        super().__init__(*args, **kwargs)


class WorkingCopyAdmin(admin.ModelAdmin):
    """A ModelAdmin whose add and change forms work on a working copy (``OnWorkingCopy``): the admin hands the
    object it read to the form and names that same object in its breadcrumb, title and heading, so without a
    copy a refused change showed its typed, unsaved name there. Django saves what the form returns, the copy."""

    def __init__(self, model: type[models.Model], admin_site: admin.AdminSite) -> None:
        super().__init__(model, admin_site)
        # Once per admin, on whatever form it declares (``get_form`` builds each request's form on this one).
        self.form = cast(type[forms.ModelForm], type(self.form.__name__, (OnWorkingCopy, self.form), {}))
