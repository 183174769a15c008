from django.urls import URLPattern, URLResolver

app_name = "issuance_import"
urlpatterns: list[URLPattern | URLResolver] = []
