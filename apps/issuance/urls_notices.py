from django.urls import URLPattern, URLResolver, path

from apps.issuance import views_notices

app_name = "issuance_notices"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views_notices.notices, name="index"),
    path("log/", views_notices.print_log, name="log"),
    path("card/<int:pk>.pdf", views_notices.card_pdf, name="card_pdf"),
]
