from django.urls import path

from console.support import views

app_name = "support"

urlpatterns = [
    path("", views.grants, name="grants"),
    path("<int:grant_id>/enter/", views.enter, name="enter"),
]
