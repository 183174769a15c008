"""Card-list import pages, under staff/cards/import/ (docs/card-import.md)."""

from django.urls import URLPattern, URLResolver, path

from apps.issuance.imports import views

app_name = "issuance_import"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.batch_list, name="list"),
    path("upload/", views.upload, name="upload"),
    path("<int:batch_id>/", views.batch, name="batch"),
    path("<int:batch_id>/progress/", views.progress, name="progress"),
    path("<int:batch_id>/confirm/", views.confirm, name="confirm"),
    path("<int:batch_id>/discard/", views.discard, name="discard"),
    path("mappings/", views.mapping_list, name="mappings"),
    path("mappings/add/", views.mapping_edit, name="mapping_add"),
    path("mappings/<int:mapping_id>/", views.mapping_edit, name="mapping_edit"),
    path("mappings/<int:mapping_id>/delete/", views.mapping_delete, name="mapping_delete"),
]
