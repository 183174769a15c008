from django.urls import URLPattern, URLResolver

app_name = "issuance_notices"
urlpatterns: list[URLPattern | URLResolver] = []
