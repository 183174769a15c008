from django.urls import path

from apps.security import views

app_name = "security"

urlpatterns = [
    path("", views.staff_home, name="home"),
    path("security/networks/", views.networks, name="networks"),
    path("security/networks/<int:network_id>/remove/", views.network_remove, name="network_remove"),
    path("security/policy/", views.policy, name="policy"),
    path("security/locks/", views.locks, name="locks"),
    path("security/locks/<int:lock_id>/release/", views.lock_release, name="lock_release"),
    path("account/logout-everywhere/", views.logout_everywhere, name="logout_everywhere"),
]
