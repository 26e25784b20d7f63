from __future__ import annotations

from django.urls import URLPattern, path

from boards import views

urlpatterns: list[URLPattern] = [
    path("boards/", views.board_list, name="boards"),
    path("boards/compare/", views.compare_page, name="boards-compare"),
    path("boards/<slug:slug>/", views.board_detail, name="board"),
]
