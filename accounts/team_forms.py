"""Forms of the team pages: a new team (superusers), a member's role, an invitation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils.text import slugify

from accounts.models import Role, Team

RESERVED_SLUGS = frozenset({"switch"})  # /teams/switch/ is the navigation's team switcher
INVITATION_LIFETIMES = {"1": timedelta(days=1), "3": timedelta(days=3), "7": timedelta(days=7)}


class TeamForm(forms.ModelForm):
    slug = forms.SlugField(max_length=50, required=False, help_text="Letters, digits, - and _; from the name if empty.")

    class Meta:
        model = Team
        fields = ["name", "slug"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("slug") and data.get("name"):
            data["slug"] = slugify(data["name"])[:50]
            if not data["slug"]:
                self.add_error("slug", "Give the team a slug: its name has no letters or digits to make one.")
        if data.get("slug") in RESERVED_SLUGS:
            self.add_error("slug", f"{data['slug']!r} is reserved for a page: choose another.")
        return data


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)
    lifetime = forms.ChoiceField(
        label="Valid for",
        choices=[("1", "1 day"), ("3", "3 days"), ("7", "7 days")],
        initial="7",
        help_text="The link works once, for this long.",
    )

    def lifetime_delta(self) -> timedelta:
        return INVITATION_LIFETIMES[self.cleaned_data["lifetime"]]
