from django.urls import path

from apps.issuance import views_counter

app_name = "issuance_counter"
urlpatterns = [
    path("", views_counter.search, name="search"),
    path("card/<int:pk>/", views_counter.checklist, name="checklist"),
]
