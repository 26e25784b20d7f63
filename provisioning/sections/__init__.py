"""The section registry: one module per kind of object in the configuration files, in the order applied.

Adding a kind is one module with a ``Section`` subclass, added to ``SECTIONS`` after the sections it refers
to; the JSON Schema (``provisioning.schema``), the plan, apply, export and the API pick it up (docs/config-as-code.md).
"""

from __future__ import annotations

from provisioning.sections.alert_rules import AlertRules
from provisioning.sections.base import Section
from provisioning.sections.boards import Boards
from provisioning.sections.channels import Channels
from provisioning.sections.flags import Flags
from provisioning.sections.objectives import Objectives
from provisioning.sections.retention import Retention
from provisioning.sections.silences import Silences
from provisioning.sections.sources import Sources
from provisioning.sections.status_pages import MaintenanceWindows, StatusPageComponents, StatusPages
from provisioning.sections.teams import Teams

# Written in this order (what is referred to first), deleted in the reverse order.
SECTIONS: tuple[Section, ...] = (
    Teams(),
    Sources(),
    Channels(),
    Objectives(),
    AlertRules(),
    Silences(),
    StatusPages(),
    StatusPageComponents(),
    MaintenanceWindows(),
    Boards(),
    Retention(),
    Flags(),
)
BY_NAME: dict[str, Section] = {section.name: section for section in SECTIONS}

__all__ = ["BY_NAME", "SECTIONS", "Section"]
