from django.urls import path

from apps.issuance.counter import views

app_name = "issuance_counter"
urlpatterns = [
    path("", views.search, name="search"),
    path("card/<int:pk>/", views.checklist, name="checklist"),
]
