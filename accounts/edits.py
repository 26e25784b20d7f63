"""Saving an edit of a team's stored object through a form: only an update, never the row inserted again.

Django's ``save`` of an object with a primary key updates its row and, when the UPDATE finds none, inserts
it again under its old id: an edit submitted after another person or a configuration apply deleted the
object would bring it back. The Django admin (``accounts.team_admin``) and the dashboard's forms
(``dashboard.saving``) save edits through ``save_edit`` instead, which only updates. The form those edits
validate works on a copy of the object (``devops_insights.working_copy``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import DatabaseError, models, transaction


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
