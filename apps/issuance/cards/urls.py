from django.urls import path

from apps.issuance.cards import settings_views, views

app_name = "issuance_cards"

urlpatterns = [
    path("", views.card_list, name="list"),
    path("bulk/", views.card_bulk, name="bulk"),
    path("<int:pk>/", views.card_page, name="detail"),
    path("<int:pk>/transition/", views.card_transition_view, name="transition"),
    path("settings/", settings_views.settings_page, name="settings"),
    path("settings/documents/add/", settings_views.document_edit, name="document_add"),
    path("settings/documents/<int:pk>/", settings_views.document_edit, name="document_edit"),
    path("settings/documents/<int:pk>/active/", settings_views.document_active, name="document_active"),
    path("settings/reasons/add/", settings_views.reason_edit, name="reason_add"),
    path("settings/reasons/<int:pk>/", settings_views.reason_edit, name="reason_edit"),
    path("settings/reasons/<int:pk>/active/", settings_views.reason_active, name="reason_active"),
]
