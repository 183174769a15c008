from django.urls import path

from apps.security import views, views_api_keys

app_name = "security"

urlpatterns = [
    path("", views.staff_home, name="home"),
    path("security/networks/", views.networks, name="networks"),
    path("security/networks/<int:network_id>/remove/", views.network_remove, name="network_remove"),
    path("security/policy/", views.policy, name="policy"),
    path("security/locks/", views.locks, name="locks"),
    path("security/locks/<int:lock_id>/release/", views.lock_release, name="lock_release"),
    path("security/api-keys/", views_api_keys.api_keys, name="api_keys"),
    path("security/api-keys/new/", views_api_keys.api_key_new, name="api_key_new"),
    path("security/api-keys/issued/", views_api_keys.api_key_issued, name="api_key_issued"),
    path("security/api-keys/<int:key_id>/rotate/", views_api_keys.api_key_rotate_page, name="api_key_rotate"),
    path("security/api-keys/<int:key_id>/revoke/", views_api_keys.api_key_revoke_page, name="api_key_revoke"),
    path("account/logout-everywhere/", views.logout_everywhere, name="logout_everywhere"),
]
