from django.urls import URLPattern, URLResolver

app_name = "issuance_cards"
urlpatterns: list[URLPattern | URLResolver] = []
