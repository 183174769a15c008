"""`/n/<number>`: the short address printed under a notice letter's QR code (apps/issuance/links.py)."""

from django.urls import URLPattern, URLResolver, path

from apps.issuance import views_short

app_name = "issuance_short"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:number>", views_short.notice_link, name="notice"),
]
