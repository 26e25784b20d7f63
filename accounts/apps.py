from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts, API tokens and audit"

    def ready(self) -> None:
        from accounts import audit_receivers, audit_retention, audited_models, library_admins

        audit_receivers.connect()
        audited_models.register_all()
        audit_retention.connect()
        library_admins.fit()  # the admin's autodiscovery, which registered allauth's admins, ran before this
