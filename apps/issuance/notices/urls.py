from django.urls import URLPattern, URLResolver, path

from apps.issuance.notices import views

app_name = "issuance_notices"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.notices, name="index"),
    path("log/", views.print_log, name="log"),
    path("card/<int:pk>.pdf", views.card_pdf, name="card_pdf"),
]
