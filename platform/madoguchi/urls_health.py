from django.urls import path

from madoguchi import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

# An unhandled exception: the database away is a 503 with Retry-After, anything else the 500 page.
handler500 = "madoguchi.middleware.server_error"
