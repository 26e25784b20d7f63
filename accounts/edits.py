"""Editing a team's stored object through a form: the one home of two rules.

- ``save_edit``: Django's ``save`` of an object with a primary key updates its row and, when the UPDATE finds
  none, inserts it again under its old id: an edit submitted after another person or a configuration apply
  deleted the object would bring it back. The Django admin (``accounts.team_admin``) and the dashboard's forms
  (``dashboard.saving``) save edits through ``save_edit`` instead, which only updates.
- ``working_copy``: a ModelForm writes what was typed onto its instance while it validates, so a page that
  gave the form the object it shows around it (heading, breadcrumb, "View the page" links) named a refused
  edit's unsaved values as the object's. The page's edit forms validate a working copy instead, and so does
  every change form of the Django admin built on ``WorkingCopyAdmin`` (its breadcrumb, title and heading named
  the name typed in a refused change).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django import forms
from django.contrib import admin
from django.db import DatabaseError, models, transaction

M = TypeVar("M", bound=models.Model)


class DeletedMeanwhile(Exception):
    """The object edited was deleted by another writer after the form read it: nothing was saved."""


def save_edit(obj: models.Model, change: bool, save: Callable[..., None] | None = None) -> None:
    """Save an add or an edit of ``obj`` (with ``save``, ``obj.save`` by default). An edit only updates: when
    its row is gone, :class:`DeletedMeanwhile` instead of the row inserted again. Any other refusal of the
    database (an ``IntegrityError`` of the row still there) is raised as it was."""
    save = save or obj.save
    if not change:
        save()
        return
    try:
        with transaction.atomic():  # a savepoint: the check below still runs if the database refused the save
            save(force_update=True)
    except DatabaseError:
        if type(obj)._base_manager.filter(pk=obj.pk).exists():
            raise
        raise DeletedMeanwhile from None


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
