from django.urls import URLPattern, URLResolver

app_name = "issuance_reports"
urlpatterns: list[URLPattern | URLResolver] = []
