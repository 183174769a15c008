"""URLs both the vendor's host and every city's host have."""

from django.urls import include, path

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("madoguchi.urls_health")),
]
