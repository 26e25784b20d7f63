from __future__ import annotations

from django.apps import AppConfig


class PollersConfig(AppConfig):
    name = "pollers"
    verbose_name = "Sources and polling"
