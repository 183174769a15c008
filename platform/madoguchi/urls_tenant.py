"""A city's host (its own schema): resident pages and staff pages."""

from django.urls import include, path

from madoguchi import views

urlpatterns = [
    path("", views.city_home, name="home"),
    path("theme.css", views.theme_css, name="theme_css"),
    path("staff/audit/", include("apps.security.urls_audit")),
    path("staff/booking/", include("apps.booking.staff.urls")),
    path("staff/cards/import/", include("apps.issuance.imports.urls")),
    path("staff/cards/notices/", include("apps.issuance.notices.urls")),
    path("staff/cards/", include("apps.issuance.cards.urls")),
    path("staff/counter/", include("apps.issuance.counter.urls")),
    path("staff/reports/", include("apps.issuance.reports.urls")),
    path("staff/vendor/maintenance/", include("console.maintenance.city_urls")),
    path("staff/vendor/", include("console.availability.city_urls")),
    path("staff/", include("apps.security.urls")),
    path("book/", include("apps.booking.resident.urls")),
    path("n/", include("apps.issuance.shortlinks.urls")),
    path("api/", include("madoguchi.urls_api")),
    path("", include("console.support.city_urls")),
    path("", include("madoguchi.urls_common")),
]

# An unhandled exception: the database away is a 503 with Retry-After, anything else the 500 page.
handler500 = "madoguchi.middleware.server_error"
