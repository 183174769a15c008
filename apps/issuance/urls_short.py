from django.urls import URLPattern, URLResolver

app_name = "issuance_short"
urlpatterns: list[URLPattern | URLResolver] = []
