"""Form fields the source forms share: key/value rows, tag chips and one-per-line lists, without raw JSON.

Used by the dashboard's source form and the admin's (``pollers.forms``): a person types names and
values, never a JSON object, and each field says what is wrong in words (a half-filled row, a
duplicate name, a bad tag). Here, below both, so that the two forms validate the same way.

A key/value field renders as rows of two inputs named ``<name>_key`` and ``<name>_value`` (several rows,
some empty), so a plain form post carries every pair; the script only adds and removes rows. Tags are one
text input, comma-separated; the script shows them as chips and keeps the input in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.template.loader import render_to_string
from django.utils.datastructures import MultiValueDict
from django.utils.safestring import SafeString, mark_safe

EMPTY_ROWS = 2
MAX_ROWS = 100


class KeyValueWidget(forms.Widget):
    template_name = "forms/keyvalue.html"

    def __init__(self, key_label: str = "Name", value_label: str = "Value", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key_label = key_label
        self.value_label = value_label

    def value_from_datadict(self, data: Mapping[str, Any], files: Any, name: str) -> list[tuple[str, str]]:
        if isinstance(data, MultiValueDict):
            keys, values = data.getlist(f"{name}_key"), data.getlist(f"{name}_value")
        else:
            keys, values = list(data.get(f"{name}_key", [])), list(data.get(f"{name}_value", []))
        values += [""] * (len(keys) - len(values))
        return [(k, v) for k, v in zip(keys, values, strict=False)]

    def value_omitted_from_data(self, data: Mapping[str, Any], files: Any, name: str) -> bool:
        return f"{name}_key" not in data

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        pairs = list(value.items()) if isinstance(value, dict) else list(value or [])
        context["widget"].update(
            rows=[*pairs, *([("", "")] * EMPTY_ROWS)],
            key_label=self.key_label,
            value_label=self.value_label,
        )
        return context

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        # The project's template directory, not the form renderer's: the default renderer does not search it.
        return mark_safe(render_to_string(self.template_name, self.get_context(name, value, attrs)))  # noqa: S308


class KeyValueField(forms.Field):
    """A mapping of names to text; rows with both parts empty are dropped, a half-filled row is an error."""

    widget = KeyValueWidget

    def to_python(self, value: Any) -> list[tuple[str, str]]:
        if isinstance(value, dict):
            return list(value.items())
        pairs = [(str(k).strip(), str(v).strip()) for k, v in (value or [])]
        pairs = [(k, v) for k, v in pairs if k or v]
        if len(pairs) > MAX_ROWS:
            raise forms.ValidationError(f"At most {MAX_ROWS} rows.")
        for key, item in pairs:
            if not key:
                raise forms.ValidationError(f"The row with value {item[:40]!r} has no name.")
            if not item:
                raise forms.ValidationError(f"{key[:60]!r} has no value.")
        names = [k for k, _ in pairs]
        duplicates = sorted({k for k in names if names.count(k) > 1})
        if duplicates:
            raise forms.ValidationError(f"Each name once: {', '.join(duplicates)} appear more than once.")
        return pairs

    def clean(self, value: Any) -> dict[str, str]:
        pairs = self.to_python(value)
        self.validate(pairs)
        self.run_validators(pairs)
        return dict(pairs)


class TagsField(forms.CharField):
    """Comma-separated tags (chips with JavaScript): lower-case slugs, each once."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 1000)
        super().__init__(**kwargs)
        self.widget.attrs.update({"data-chips": "", "autocomplete": "off"})

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value) or ""
        tags: list[str] = []
        for raw in text.replace("\n", ",").split(","):
            tag = raw.strip().lower()
            if not tag:
                continue
            if len(tag) > 64 or not all(c.isalnum() or c in "-_." for c in tag):
                raise forms.ValidationError(f"Tag {tag[:64]!r}: letters, digits, - _ and . only, at most 64.")
            if tag not in tags:
                tags.append(tag)
        if len(tags) > 30:
            raise forms.ValidationError("At most 30 tags.")
        return tags


class LinesField(forms.CharField):
    """A list of short texts, one per line (dotted paths, metric names): blank lines dropped, each once."""

    def __init__(self, *, max_items: int = 100, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3, "cols": 60}))
        super().__init__(**kwargs)
        self.max_items = max_items

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return "\n".join(str(v) for v in value)
        return value

    def clean(self, value: Any) -> list[str]:
        text = super().clean(value) or ""
        items: list[str] = []
        for raw in text.splitlines():
            item = raw.strip()
            if item and item not in items:
                items.append(item)
        if len(items) > self.max_items:
            raise forms.ValidationError(f"At most {self.max_items} lines.")
        return items
