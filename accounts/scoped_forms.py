"""Model forms of objects unique within their owner (a rule's name in its team, a component's name on its
page) that say so as a validation error, wherever the owner comes from.

Django checks a model's ``UniqueConstraint`` in a ``ModelForm`` only when every field of it is a field of
the form. The dashboard's forms leave the owner out (the view sets it on the instance: the current team, the
page being managed), so a second rule of one name would pass validation and fail on the database's
constraint (a server error). And an admin form whose ``team`` is left blank saves into the default team
(``TeamOwned.save``) while Django compares a blank team with nothing. ``ScopedUniqueModelForm`` checks those
constraints with the owner the row will be saved with, the error on the constraint's last field (the name),
where the person can fix it; and those whose condition names a field the form leaves out, which Django skips.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models

from accounts.models import DEFAULT_TEAM_SLUG, Team, TeamOwned


class ScopedUniqueModelForm(forms.ModelForm):
    def validate_unique(self) -> None:
        super().validate_unique()
        instance: Any = self.instance
        # As Django: a constraint of expressions is its own to check.
        unique: list[Any] = [
            c for c in instance._meta.constraints if isinstance(c, models.UniqueConstraint) and c.fields
        ]
        for constraint in unique:
            # A condition's fields count too: Django skips a constraint whose condition names a field the form
            # leaves out (a silence's kept_by_window).
            named = {*constraint.fields, *(constraint.condition.referenced_base_fields if constraint.condition else ())}
            hidden = {name for name in named if name not in self.fields}
            unset_team = isinstance(instance, TeamOwned) and "team" in constraint.fields and instance.team_id is None
            if not hidden and not unset_team:
                continue  # every field of it is in the form: Django has checked it
            if any(name in self.errors for name in constraint.fields):
                continue  # a field of it is wrong already (a blank name): that error is the one to fix
            if unset_team:
                # Saved without a team, the row lands in the default team: compare with that team's rows.
                instance.team_id = Team.objects.filter(slug=DEFAULT_TEAM_SLUG).values_list("pk", flat=True).first()
            try:
                constraint.validate(type(instance), instance)
            except ValidationError as exc:
                name = constraint.fields[-1]
                self.add_error(name if name in self.fields else None, exc)
            finally:
                if unset_team:
                    instance.team_id = None
