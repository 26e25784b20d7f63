"""Feature flags in the admin: waffle's flag admin on our flag model (with its teams), and waffle's switches
and samples (waffle's own registration is off: ``WAFFLE_ENABLE_ADMIN_PAGES = False``, its flag is swapped), each
on a working copy so that a refused change is not named by its typed name
(``devops_insights.working_copy.WorkingCopyAdmin``)."""

from __future__ import annotations

from django.contrib import admin
from waffle.admin import FlagAdmin, SampleAdmin, SwitchAdmin
from waffle.models import Sample, Switch

from devops_insights.working_copy import WorkingCopyAdmin
from provisioning.models import Flag


@admin.register(Flag)
class TeamFlagAdmin(WorkingCopyAdmin, FlagAdmin):
    filter_horizontal = ("teams", "groups")


@admin.register(Switch)
class StoredSwitchAdmin(WorkingCopyAdmin, SwitchAdmin):
    pass


@admin.register(Sample)
class StoredSampleAdmin(WorkingCopyAdmin, SampleAdmin):
    pass
