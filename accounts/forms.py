from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from allauth.account import forms as allauth_forms
from django import forms
from django.utils import timezone

from accounts import teams
from accounts.models import ApiToken, Role, Team, TokenRefused

EXPIRY_CHOICES = [
    ("never", "Never"),
    ("7", "In 7 days"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
]


def refuse_without_room(form: forms.BaseForm, user_id: int, name: str | None) -> None:
    """Add to ``form`` why the user has no room for a new token of ``name`` (``ApiToken.check_room``)."""
    try:
        ApiToken.check_room(user_id, name or "")
    except TokenRefused as refused:
        form.add_error(refused.field if refused.field in form.fields else None, refused.message)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. 'CI deploy checks'.")
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), empty_label=None, help_text="The token sees and changes this team's objects only."
    )
    role = forms.ChoiceField(
        choices=Role.choices,
        initial=Role.VIEWER,
        help_text=(
            "Viewer reads; operator also silences, pauses and polls; admin also manages sources. "
            "At most your own role in the team, and capped by it whenever the token is used."
        ),
    )
    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, initial="90", label="Expires")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        team_field = self.fields["team"]
        assert isinstance(team_field, forms.ModelChoiceField)
        team_field.queryset = teams.teams_of(user)

    def clean_name(self) -> str:
        return str(self.cleaned_data["name"]).strip()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # Said here with the form's other errors; ApiToken.issue checks it again under a lock, for requests at once.
        refuse_without_room(self, self.user.pk, cleaned.get("name"))
        team, role = cleaned.get("team"), cleaned.get("role")
        if team is not None and role and teams.rank(role) > teams.rank(teams.role_in(self.user, team)):
            self.add_error("role", f"Higher than your own role in {team.name}.")
        return cleaned

    def expires_at(self) -> datetime | None:
        choice = self.cleaned_data["expires"]
        return None if choice == "never" else timezone.now() + timedelta(days=int(choice))


class LoginForm(allauth_forms.LoginForm):
    """allauth's login form, answering to the field name ``username`` as the login page always has.

    allauth calls its identifier ``login`` (a user name or an e-mail address); password managers, scripts
    and the dashboard's tests post ``username``. Either works; the page renders ``username``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        data = kwargs.get("data", args[0] if args else None)
        if data is not None and "login" not in data and "username" in data:
            data = data.copy()
            data["login"] = data["username"]
            if "data" in kwargs:
                kwargs["data"] = data
            else:
                args = (data, *args[1:])
        super().__init__(*args, **kwargs)
        login = self.fields["login"]
        login.label = "Username or e-mail"
        login.widget.attrs.update({"id": "id_username", "autocomplete": "username", "autofocus": True})
        login.widget.attrs.pop("placeholder", None)
        self.fields["password"].widget.attrs.pop("placeholder", None)
