"""Feature flags in the admin: waffle's flag admin on our flag model (with its teams), and waffle's switches
and samples (waffle's own registration is off: ``WAFFLE_ENABLE_ADMIN_PAGES = False``, its flag is swapped)."""

from __future__ import annotations

from django.contrib import admin
from waffle.admin import FlagAdmin, SampleAdmin, SwitchAdmin
from waffle.models import Sample, Switch

from provisioning.models import Flag


@admin.register(Flag)
class TeamFlagAdmin(FlagAdmin):
    filter_horizontal = ("teams", "groups")


admin.site.register(Switch, SwitchAdmin)
admin.site.register(Sample, SampleAdmin)
