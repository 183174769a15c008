from django.urls import path

from apps.issuance import views_cards

app_name = "issuance_cards"

urlpatterns = [
    path("", views_cards.card_list, name="list"),
    path("bulk/", views_cards.card_bulk, name="bulk"),
    path("<int:pk>/", views_cards.card_page, name="detail"),
    path("<int:pk>/transition/", views_cards.card_transition_view, name="transition"),
    path("settings/", views_cards.settings_page, name="settings"),
    path("settings/documents/add/", views_cards.document_edit, name="document_add"),
    path("settings/documents/<int:pk>/", views_cards.document_edit, name="document_edit"),
    path("settings/documents/<int:pk>/active/", views_cards.document_active, name="document_active"),
    path("settings/reasons/add/", views_cards.reason_edit, name="reason_add"),
    path("settings/reasons/<int:pk>/", views_cards.reason_edit, name="reason_edit"),
    path("settings/reasons/<int:pk>/active/", views_cards.reason_active, name="reason_active"),
]
