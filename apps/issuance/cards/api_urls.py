"""This feature's REST API routes under /api/v1/ (platform/madoguchi/urls_api.py includes them)."""

from __future__ import annotations

from django.urls import URLPattern, path

from apps.issuance.cards import api

urlpatterns: list[URLPattern] = [
    path("cards/", api.CardList.as_view(), name="api_cards"),
    path("cards/<str:notice_number>/", api.CardDetail.as_view(), name="api_card"),
    path("cards/<str:notice_number>/transitions/", api.CardTransition.as_view(), name="api_card_transitions"),
]
