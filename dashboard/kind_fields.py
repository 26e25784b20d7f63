"""Which fields of a form with kinds (the alert rule and channel forms of the Alerts page) the page shows.

A field serves some values of the form's selects (``data-for``: the kinds, or scopes, it serves) and may be
hidden by others whatever it serves (``data-unless``: a burn-rate rule has no scope, source or tag). The
script (static/js/forms.js) applies this rule as the selects change; the server applies it to the page it
sends, so the first page is right before the script runs, and without it (a changed kind then shows its
fields once the form is sent: the fields hidden are cleared or ignored by the form, never required).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from django import forms


def value_owners(fields_of: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Each field named in ``fields_of`` (a select's value -> the fields it uses), with the values that use it,
    space-separated as the page writes them."""
    owners: dict[str, list[str]] = {}
    for value, names in fields_of.items():
        for name in names:
            owners.setdefault(name, []).append(str(value))
    return {name: " ".join(values) for name, values in owners.items()}


@dataclass(frozen=True)
class KindFields:
    selects: tuple[str, ...]  # the form's fields whose values choose the others: kind, scope
    owners: dict[str, str]  # field -> the values it serves (data-for); a field not named serves every one
    unless: dict[str, str]  # field -> the values that hide it whatever it serves (data-unless)

    def shown(self, name: str, chosen: Collection[str]) -> bool:
        if any(value in chosen for value in self.unless.get(name, "").split()):
            return False
        return name not in self.owners or any(value in chosen for value in self.owners[name].split())

    def hidden(self, form: forms.BaseForm) -> set[str]:
        """The fields of ``form`` the page hides for the values chosen (typed, or stored). The form ignores what
        they hold (the rule form's ``clean``), so none of them carries an error the page would not show."""
        chosen = {str(form[name].value() or "") for name in self.selects if name in form.fields}
        return {name for name in form.fields if not self.shown(name, chosen)}
