"""A city's host (its own schema): resident pages and staff pages."""

from django.urls import include, path

from madoguchi import views

urlpatterns = [
    path("", views.city_home, name="home"),
    path("theme.css", views.theme_css, name="theme_css"),
    path("staff/audit/", include("apps.security.urls_audit")),
    path("staff/booking/", include("apps.booking.staff.urls")),
    path("staff/cards/import/", include("apps.issuance.urls_import")),
    path("staff/cards/notices/", include("apps.issuance.urls_notices")),
    path("staff/cards/", include("apps.issuance.urls_cards")),
    path("staff/counter/", include("apps.issuance.urls_counter")),
    path("staff/reports/", include("apps.issuance.urls_reports")),
    path("staff/", include("apps.security.urls")),
    path("book/", include("apps.booking.resident.urls")),
    path("n/", include("apps.issuance.urls_short")),
    path("", include("madoguchi.urls_common")),
]
