"""The management forms: a page, a component, an incident and its updates, a maintenance window."""

from __future__ import annotations

from typing import Any

from django import forms

from accounts.models import Team
from accounts.scoped_forms import ScopedUniqueModelForm
from pollers.models import Source
from statuspages.models import Component, Incident, IncidentStatus, MaintenanceWindow, StatusPage, Visibility

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format=DATETIME_FORMAT, **kwargs)


class PageForm(forms.ModelForm):
    new_password = forms.CharField(
        label="Page password",
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="For a password page: set or replace it (left empty: unchanged). Kept only as a hash.",
    )

    class Meta:
        model = StatusPage
        fields = [
            "team",
            "title",
            "slug",
            "logo",
            "description",
            "visibility",
            "new_password",
            "custom_host",
            "published",
            "auto_draft_incidents",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args: Any, teams: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams if teams is not None else Team.objects.none()  # type: ignore[attr-defined]
        if self.instance.pk:
            self.fields["team"].disabled = True  # moving a page between teams is an admin's job

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        wants_password = data.get("visibility") == Visibility.PASSWORD
        if wants_password and not data.get("new_password") and not self.instance.password_hash:
            self.add_error("new_password", "A password page needs a password.")
        return data

    def save(self, commit: bool = True) -> StatusPage:
        page = super().save(commit=False)
        raw = self.cleaned_data.get("new_password") or ""
        if page.visibility != Visibility.PASSWORD:
            page.set_password("")
        elif raw:
            page.set_password(raw)
        if commit:
            page.save()
        return page


class ComponentForm(ScopedUniqueModelForm):  # a name unique on the page, which the view sets
    class Meta:
        model = Component
        fields = ["name", "description", "sources", "order", "published", "show_metric", "show_metric_unit"]
        widgets = {"sources": forms.CheckboxSelectMultiple}
        labels = {"show_metric": "Show one metric publicly", "show_metric_unit": "Its unit"}
        help_texts = {
            "sources": "Checked by the poller; the component's state is the worst of theirs. Their URLs stay private.",
            "show_metric": "Empty: no metric value is ever shown. A name from the sources' metric paths opts in.",
        }

    def __init__(self, *args: Any, page: StatusPage, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the page's team's sources: a page shows nothing of another team.
        self.fields["sources"].queryset = Source.objects.filter(team_id=page.team_id).order_by("name")  # type: ignore[attr-defined]
        if self.instance.pk is None:
            self.initial["order"] = page.next_component_order()


class IncidentForm(forms.ModelForm):
    first_update = forms.CharField(
        label="First update",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Markdown. What visitors read first; more updates can follow.",
    )

    class Meta:
        model = Incident
        fields = ["title", "impact", "status", "components", "started_at", "resolved_at", "is_draft"]
        widgets = {
            "started_at": DateTimeInput(),
            "resolved_at": DateTimeInput(),
            "components": forms.CheckboxSelectMultiple,
        }
        labels = {
            "is_draft": "Draft (only the team sees it)",
            "started_at": "Started (UTC)",
            "resolved_at": "Resolved (UTC)",
        }
        help_texts = {"resolved_at": "Only with the status Resolved; left empty then, it is now."}

    def __init__(self, *args: Any, page: StatusPage, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["components"].queryset = page.components.all()  # type: ignore[attr-defined]
        self.fields["components"].required = False
        if self.instance.pk:
            del self.fields["first_update"]


class IncidentUpdateForm(forms.Form):
    status = forms.ChoiceField(choices=IncidentStatus.choices)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=20_000, help_text="Markdown.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Its own ids: it shares the incident's page with the incident's form, whose status field has the same name,
        # and a label (or an error) pointing at id_status named that form's field.
        kwargs.setdefault("auto_id", "update_%s")
        super().__init__(*args, **kwargs)


class MaintenanceForm(ScopedUniqueModelForm):  # a title unique on the page, which the view sets
    class Meta:
        model = MaintenanceWindow
        fields = ["title", "body", "components", "starts_at", "ends_at"]
        widgets = {
            "starts_at": DateTimeInput(),
            "ends_at": DateTimeInput(),
            "body": forms.Textarea(attrs={"rows": 4}),
            "components": forms.CheckboxSelectMultiple,
        }
        labels = {"starts_at": "Starts (UTC)", "ends_at": "Ends (UTC)"}
        help_texts = {"components": "Shown as under maintenance, and their sources' alerts silenced, for the window."}

    def __init__(self, *args: Any, page: StatusPage, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["components"].queryset = page.components.all()  # type: ignore[attr-defined]
