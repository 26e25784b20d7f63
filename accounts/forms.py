from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from allauth.account import forms as allauth_forms
from django import forms
from django.utils import timezone

from accounts.models import ApiToken

EXPIRY_CHOICES = [
    ("never", "Never"),
    ("7", "In 7 days"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In a year"),
]
MAX_TOKENS_PER_USER = 50


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What uses it, e.g. 'CI deploy checks'.")
    scope = forms.ChoiceField(
        choices=ApiToken.Scope.choices,
        initial=ApiToken.Scope.READ,
        help_text="Write is needed only to change sources, and only works for staff users.",
    )
    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, initial="90", label="Expires")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if ApiToken.objects.filter(user=self.user, name=name).exists():
            raise forms.ValidationError("You already have a token with this name.")
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if ApiToken.objects.filter(user=self.user).count() >= MAX_TOKENS_PER_USER:
            raise forms.ValidationError(f"You have {MAX_TOKENS_PER_USER} tokens; revoke some first.")
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
