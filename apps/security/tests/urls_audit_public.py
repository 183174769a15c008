from apps.security.tests.urls_audit import _test_patterns
from madoguchi.urls_public import urlpatterns as public_patterns

urlpatterns = [*_test_patterns, *public_patterns]
