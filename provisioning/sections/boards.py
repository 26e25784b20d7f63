"""``boards:``: boards (docs/boards.md), by slug, each item being the board document itself: what a board's
**Export JSON** writes can be pasted as an item (YAML reads JSON) and what ``config export`` writes can be
imported. The document is checked by the boards app's own code (``boards.spec.validate``: its JSON Schema,
which the configuration's schema embeds, and the rules a schema cannot say) and written through it
(``Board.create_from``, ``Board.save_document``: a change is a new version of the board, as in the editor).
Here a board also needs its ``slug``, its natural key (an export always has it)."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from django.db.models import F

from boards import spec
from boards.models import Board, BoardVersion
from provisioning.context import Context
from provisioning.sections.base import (
    INTEGER,
    LIST,
    STRING,
    TEAM,
    TEAM_FIELD,
    Built,
    Field,
    Key,
    Ref,
    Section,
    from_model,
    relink,
)

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
NOTE = "configuration as code"  # the note of the versions an apply writes (the board's history shows it)


def _path(text: str) -> tuple[str | int, ...]:
    """``panels[2].metrics[0]`` (``boards.spec.path_of``) as a path inside the item."""
    if text == "$":
        return ()
    return tuple(int(index) if index else name for name, index in _PART.findall(text))


class Boards(Section):
    name = "boards"
    title = "Boards: each item a board document as the board's Export JSON writes it (docs/boards.md)"
    model = Board
    key_fields = ("slug",)
    fields: ClassVar[tuple[Field, ...]] = (
        Field("format", STRING, description="The board format's version.", enum=(spec.FORMAT,)),
        from_model(Board, "title", "title", STRING),
        from_model(Board, "slug", "slug", STRING, description="Unique across teams: the natural key."),
        TEAM_FIELD,
        from_model(Board, "time_range", "time_range", STRING, default=spec.DEFAULTS["time_range"]),
        from_model(Board, "refresh", "refresh", INTEGER, default=spec.DEFAULTS["refresh"]),
        Field("variables", LIST, list, "Pickers the panels' sources may name as $name.", model_field="variables"),
        Field("panels", LIST, description="The panels with their place in the 12-column grid.", model_field="panels"),
        Field(
            "phone_order",
            LIST,
            list,
            "Panel ids in the one-column (phone) order; panels not listed follow in reading order.",
            model_field="phone_order",
        ),
    )
    plain = ("title", "slug", "time_range", "refresh", "variables")
    refs: ClassVar[dict[str, Ref]] = {"team": TEAM}

    def item_schema(self) -> dict[str, Any] | None:
        """The boards app's own schema of a document (one home), with the slug this section needs."""
        schema = {key: value for key, value in spec.SCHEMA.items() if key != "$schema"}
        return {**schema, "required": [*schema["required"], "slug"]}

    def load(self, ctx: Context) -> dict[Key, Any]:
        boards = {board.pk: board for board in Board.objects.select_related("team")}
        # The newest version of every board, in one query: a board's ``version`` is its newest number.
        newest = BoardVersion.objects.filter(number=F("board__version")).values_list("board_id", "document")
        documents = dict(newest)
        for board in boards.values():
            board.newest_document = documents.get(board.pk, {})  # type: ignore[attr-defined]
        return self.keyed(ctx, boards.values(), lambda board: (board.slug,))

    def actual(self, obj: Any, ctx: Context) -> dict[str, Any]:
        document = getattr(obj, "newest_document", None)
        if document is None:
            document = obj.document()
        return {
            **super().actual(obj, ctx),
            "format": spec.FORMAT,
            "panels": document.get("panels", []),
            "phone_order": list(document.get("phone_order", [])),
        }

    def document(self, values: dict[str, Any]) -> dict[str, Any]:
        # No phone order is the reading order: left out, as the board's own Export JSON leaves it out.
        document = {spec_field.key: values[spec_field.key] for spec_field in self.fields}
        if not document["phone_order"]:
            del document["phone_order"]
        return document

    def check(self, item: dict[str, Any], ctx: Context) -> list[tuple[Any, str]]:
        problems = super().check(item, ctx)
        try:
            spec.validate(item)
        except spec.SpecError as exc:
            problems += [(_path(where), message) for where, messages in exc.problems.items() for message in messages]
        return problems

    def build(self, obj: Any | None, values: dict[str, Any], ctx: Context) -> Built:
        built = super().build(obj, values, ctx)
        built.document = self.document(values)
        return built

    def create(self, built: list[Built], ctx: Context) -> None:
        for item in built:
            relink(item)
            item.instance = Board.create_from(item.document, item.instance.team, None)

    def update(self, built: Built, ctx: Context) -> None:
        relink(built)
        board = built.instance
        Board.objects.filter(pk=board.pk).update(team=board.team)
        board.save_document(built.document, None, note=NOTE)
