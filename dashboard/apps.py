from __future__ import annotations

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Dashboards"

    def ready(self) -> None:
        from dashboard import system_state
        from metrics.signals import store_availability_changed
        from pollers.signals import poller_process_changed

        # The system banner's cached state goes when its inputs change (dashboard/system_state.py).
        poller_process_changed.connect(system_state.forget, dispatch_uid="dashboard.system_state.pollers")
        store_availability_changed.connect(system_state.forget, dispatch_uid="dashboard.system_state.store")
