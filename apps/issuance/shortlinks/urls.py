"""`/n/<number>`: the short address printed under a notice letter's QR code (apps/issuance/shortlinks/links.py)."""

from django.urls import URLPattern, URLResolver, path

from apps.issuance.shortlinks import views

app_name = "issuance_short"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:number>", views.notice_link, name="notice"),
]
