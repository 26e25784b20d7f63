"""Template filters for an objective's percentages (objectives/percentages.py is the one rule)."""

from __future__ import annotations

from django import template

from objectives.percentages import attainment_text, budget_text

register = template.Library()


@register.filter
def attainment(value: float) -> str:
    return attainment_text(float(value))


@register.filter
def budget(value: float) -> str:
    return budget_text(float(value))
