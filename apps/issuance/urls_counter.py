from django.urls import URLPattern, URLResolver

app_name = "issuance_counter"
urlpatterns: list[URLPattern | URLResolver] = []
