"""Boards: versions only grow, restore copies, duplicate starts a history of its own, teams decide access."""

from __future__ import annotations

import pytest

from accounts.models import Role
from boards.models import Board
from tests.factories import add_member, board_document, make_board, make_team, make_user

pytestmark = pytest.mark.django_db


def test_it_keeps_every_version_and_restores_one_as_a_new_version() -> None:
    author = make_user("ada")
    board = make_board("Ops", author=author)
    assert board.version == 1
    wider = board_document("Ops, wider", time_range="7d")
    wider["panels"][0]["w"] = 12
    board.save_document(wider, author)
    assert (board.version, board.title, board.time_range) == (2, "Ops, wider", "7d")
    restored = board.restore(1, author)
    board.refresh_from_db()
    assert (restored.number, restored.note) == (3, "restored version 1")
    assert (board.title, board.time_range, board.document()["panels"][0]["w"]) == ("Ops", "24h", 6)
    assert list(board.versions.values_list("number", flat=True)) == [3, 2, 1]


def test_it_refuses_an_invalid_document_and_changes_nothing() -> None:
    board = make_board("Ops")
    with pytest.raises(ValueError, match="panels"):
        board.save_document(board_document(panels=[{"id": "x", "type": "pie"}]), None)
    board.refresh_from_db()
    assert (board.version, board.versions.count()) == (1, 1)


def test_it_duplicates_a_board_with_a_fresh_slug_and_history() -> None:
    board = make_board("Ops")
    board.save_document(board_document("Ops"), None)
    copy = board.duplicate(None)
    assert (copy.slug, copy.title, copy.version) == ("ops-copy", "Ops (copy)", 1)
    assert copy.document()["panels"] == board.document()["panels"]


def test_it_exports_the_phone_order_of_the_version_it_reads() -> None:
    board = make_board("Ops")
    assert "phone_order" not in board.document()
    phone = board_document("Ops", phone_order=["cpu"])
    board.save_document(phone, None)
    assert board.document()["phone_order"] == ["cpu"]
    assert board.duplicate(None).document()["phone_order"] == ["cpu"]
    board.restore(1, None)
    assert "phone_order" not in board.document()


def test_it_lets_viewers_read_and_operators_edit_their_teams_boards() -> None:
    blue, red = make_team("blue"), make_team("red")
    board = make_board("Blue board", team=blue)
    viewer, operator, outsider = make_user("v"), make_user("o"), make_user("x")
    add_member(viewer, blue, Role.VIEWER)
    add_member(operator, blue, Role.OPERATOR)
    add_member(outsider, red, Role.ADMIN)
    assert list(Board.objects.readable_by(viewer)) == [board]
    assert list(Board.objects.readable_by(outsider)) == []
    assert (board.can_edit(viewer), board.can_edit(operator), board.can_edit(outsider)) == (False, True, False)
    assert board.can_edit(make_user("root", superuser=True))
