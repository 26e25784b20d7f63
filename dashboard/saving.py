"""Saving a team's object (an alert rule, a channel) from a dashboard form, when another writer may have
changed what the form checked between its checks and the save.

A configuration apply (provisioning/apply.py) or another person can, in that moment, take the name the form
found free, delete a source or channel it chose, or delete the object being edited. The database refuses the
first two (one_alert_rule_name_per_team, a foreign key): the form's own checks, run once more, see the other
writer's committed work and say what is wrong, where the person can fix it, instead of a server error. The
last the database would not refuse: Django's save, finding no row to update, inserts the object again and
undoes the other writer's delete, so an edit only ever updates (``accounts.edits.save_edit``: ``DeletedMeanwhile``
when there is nothing left to).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.db import IntegrityError, transaction

from accounts.edits import save_edit


def save_in_team(form: forms.ModelForm, team_id: int, prepare: Callable[[Any], None] | None = None) -> Any | None:
    """Save the valid ``form``'s object in the team (``prepare`` sees it first) with its many-to-many, all or
    nothing. None when the database refused it, the form then holding the errors that explain why."""
    editing = not form.instance._state.adding
    try:
        with transaction.atomic():
            unsaved = form.save(commit=False)
            unsaved.team_id = team_id
            if prepare is not None:
                prepare(unsaved)
            save_edit(unsaved, editing)
            form.save_m2m()
        return unsaved
    except IntegrityError:
        if not editing:  # the insert was undone with the rest: the form is for a new object still
            form.instance.pk = None
            form.instance._state.adding = True
        form.full_clean()
        if form.errors:
            return None
        raise  # a refusal the form's checks cannot explain is not theirs to hide
