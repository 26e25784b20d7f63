"""``manage.py send_reports [--month YYYY-MM] [--dry-run]``: e-mail each enabled report subscription the
report of a month (default: the last complete one), as HTML with the CSV attached, through Django's
e-mail backend. Run it monthly (cron, a systemd timer); a subscription already sent that month is skipped,
so running it twice sends nothing twice."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.loader import render_to_string
from django.utils import timezone

from metrics.stores import get_store
from objectives import reports
from objectives.models import ReportSubscription

log = logging.getLogger("objectives")


class Command(BaseCommand):
    help = "E-mail the monthly availability reports to their subscribers."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", help="YYYY-MM (default: the previous month).")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be sent; send nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        month = options["month"] or reports.previous_month(now)
        try:
            start, end = reports.month_range(month)
        except reports.ReportRangeError as exc:
            raise CommandError(str(exc)) from None
        if end > now:
            # Its report would cover it only to date, and marking it sent would keep the whole month's from going.
            raise CommandError(f"{month} is not over yet (it ends {end:%Y-%m-%d} UTC): send its report from then on")
        store = get_store()
        sent = 0
        failed: list[str] = []
        due = (
            ReportSubscription.objects.current()
            .filter(enabled=True)
            .exclude(last_sent_month=month)
            .select_related("team", "source")
        )
        for subscription in due:
            try:
                sent += self.send(store, subscription, month, start, end, now, dry_run=options["dry_run"])
            except Exception:
                # One subscription's failure (a refused address, a store error) must not hold back the others,
                # run after run: it is not marked sent, so the next run retries it, and the run ends in an error.
                log.exception("report subscription %s for %s failed", subscription.pk, month)
                failed.append(str(subscription))
        self.stdout.write(f"{sent} report(s) sent for {month}")
        if failed:
            raise CommandError(f"{len(failed)} report(s) not sent, retried by the next run: {', '.join(failed)}")

    def send(
        self,
        store: Any,
        subscription: ReportSubscription,
        month: str,
        start: datetime,
        end: datetime,
        now: datetime,
        *,
        dry_run: bool,
    ) -> int:
        """Send one subscription its report; 1 when sent (and marked sent for ``month``), 0 on a dry run."""
        if subscription.source is not None:
            report = reports.for_source(store, subscription.source, start, end, now)
            name = subscription.source.slug
        else:
            report = reports.for_team(store, subscription.team, start, end, now)
            name = f"team-{subscription.team.slug}"
        recipients = subscription.addresses()
        if dry_run:
            self.stdout.write(f"would send {report.title} {month} to {len(recipients)} recipient(s)")
            return 0
        context = {"report": report, "label": month}
        message = EmailMultiAlternatives(
            subject=f"{report.title}: availability report {month}",
            body=render_to_string("objectives/email/report.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=recipients,
        )
        message.attach_alternative(render_to_string("objectives/email/report.html", context), "text/html")
        message.attach(f"report-{name}-{month}.csv", reports.to_csv(report), "text/csv")
        message.send()
        # Marked after the send: a failed send is retried by the next run rather than lost.
        ReportSubscription.objects.filter(pk=subscription.pk).update(last_sent_month=month)
        log.info("report %s %s sent to %d recipient(s)", report.title, month, len(recipients))
        return 1
