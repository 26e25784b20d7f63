"""``manage.py config export|plan|apply``: the whole setup as YAML files (docs/config-as-code.md).

Exit codes, for CI: ``plan`` 0 with no changes, 2 with changes, 1 on any problem (all listed, with file,
line and path); ``apply`` 0 when applied (or nothing to do), 1 on problems (nothing changed) or when declined.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.models import Team
from provisioning.apply import Conflict, Declined, apply_files
from provisioning.document import read_directory
from provisioning.export import SharedKeys, export_files, export_text, write_directory
from provisioning.plan import Plan, make_plan
from provisioning.problems import ConfigInvalid
from provisioning.sections import SECTIONS

AUDIT_ACTOR = "manage.py config apply"  # who the audit trail names for an apply from the command line
EXIT_PROBLEMS = 1
EXIT_CHANGES = 2


# The sections come from the registry: a hand-written list had fallen behind it (no objectives, boards...).
SECTIONS_TEXT = ", ".join(section.name for section in SECTIONS)
PLAN_TEXT = (
    "Show what apply would change; nothing is written. Exit code 0: nothing would change, 2: something would, "
    "1: problems (each with file, line and path)."
)
APPLY_TEXT = (
    "Apply the files in one transaction (all or nothing); shows the plan and asks unless --yes. "
    "Exit code 0: applied or nothing to do, 1: problems or declined (nothing changed)."
)
PRUNE_TEXT = (
    "Delete (plan: show deleting) the stored objects the files leave out, in the sections the files name and "
    "the teams they speak for (teams themselves are never deleted)."
)


class Command(BaseCommand):
    help = f"Export, plan or apply the setup as YAML files (sections: {SECTIONS_TEXT})."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="Write the stored setup as YAML files (secrets as references).")
        export.add_argument("--team", help="Only this team's objects (by slug).")
        export.add_argument("-o", "--output", help="Directory to write one file per section into (default: stdout).")
        for name, text in (("plan", PLAN_TEXT), ("apply", APPLY_TEXT)):
            action = sub.add_parser(name, help=text, description=text)
            action.add_argument(
                "-f", "--files", required=True, help="A directory of .yaml/.yml files (read recursively), or one file."
            )
            action.add_argument("--prune", action="store_true", help=PRUNE_TEXT)
            if name == "apply":
                action.add_argument("--yes", action="store_true", help="Apply without asking.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "export":
            self._export(options.get("team"), options.get("output"))
            return
        try:
            files = read_directory(options["files"])
            if action == "plan":
                plan = make_plan(files, prune=options["prune"])
                self.stdout.write(plan.render(), ending="")
                sys.exit(EXIT_CHANGES if plan.has_changes else 0)
            plan = apply_files(
                files,
                prune=options["prune"],
                confirm=None if options["yes"] else self._confirm,
                actor_label=AUDIT_ACTOR,
            )
        except ConfigInvalid as exc:
            for problem in exc.problems:
                self.stderr.write(str(problem))
            self.stderr.write(f"{len(exc.problems)} problem(s): nothing was changed.")
            sys.exit(EXIT_PROBLEMS)
        except Conflict as exc:
            self.stderr.write(str(exc))
            sys.exit(EXIT_PROBLEMS)
        except Declined:
            self.stderr.write("Not applied: nothing was changed.")
            sys.exit(EXIT_PROBLEMS)
        if options["yes"] or not plan.has_changes:
            self.stdout.write(plan.render(), ending="")  # else the confirmation showed it
        self.stdout.write("Applied." if plan.has_changes else "Nothing to apply.")

    def _confirm(self, plan: Plan) -> bool:
        self.stdout.write(plan.render(), ending="")
        if not sys.stdin.isatty():
            self.stderr.write("Refusing to apply without --yes when not asked at a terminal.")
            return False
        return input("Apply these changes? Type 'yes': ").strip().lower() == "yes"

    def _export(self, team: str | None, output: str | None) -> None:
        if team is not None and not Team.objects.filter(slug=team).exists():
            self.stderr.write(f"No team {team!r}.")
            sys.exit(EXIT_PROBLEMS)
        try:
            # Without -o, one file's text (one ``version``), so that ``config export > setup.yaml`` is valid input.
            files = export_files(team) if output else {"": export_text(team)}
        except SharedKeys as exc:
            for problem in exc.problems:
                self.stderr.write(problem)
            self.stderr.write(f"{len(exc.problems)} problem(s): nothing was exported.")
            sys.exit(EXIT_PROBLEMS)
        if output:
            for path in write_directory(files, output):
                self.stdout.write(f"wrote {path}")
            return
        self.stdout.write(files[""], ending="")
