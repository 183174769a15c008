"""The API's description for people and programs: the OpenAPI schema, Swagger UI and Redoc (docs/api.md, "OpenAPI").

Who may open them: anyone inside the city's allowed networks, without a key. /api/ is a staff path, so the
network gate (StaffNetworkMiddleware) still refuses every other address before these views run. The schema is
generated from the code alone (no query, no setting of the city): every city serves the same document, so it
holds no city data and a key would protect nothing. A browser cannot send a Bearer header when it opens a page,
and Redoc cannot send one at all; a keyed schema would leave both pages empty. "Try it out" in Swagger UI needs a
key typed into "Authorize", like any other call.

No inline script or style (the CSP is `script-src 'self'`, `style-src 'self'`): each page loads the sidecar's
bundle from our static files and its start-up script from `?script` on the same address. Redoc adds its styles as
<style> elements at run time: the Redoc page alone allows them with a per-response nonce (given to Redoc, which
puts it on every element it adds) and lets Redoc start its search worker from a blob: address; the one <style> its
bundle adds while loading, before it has the nonce, is allowed by its hash (REDOC_LOAD_STYLE_HASHES). The only
refusal left is Redoc's "API docs by Redocly" logo from Redocly's CDN (img-src): Redoc then shows the text alone.
tests/browser/test_api_docs.py opens both pages in Chromium and fails on any other refusal.
"""

from __future__ import annotations

from typing import Any

from csp.constants import NONCE
from csp.decorators import csp_update
from django.conf import settings
from django.http import HttpResponse
from django.utils.translation import get_language
from drf_spectacular.plumbing import get_relative_url, set_query_parameters
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

SCHEMA_URL_NAME = "api_schema"

# Started by the Redoc page (?script): the schema's address and the CSP nonce come from the page's container.
REDOC_SCRIPT = """"use strict";
(function () {
  const container = document.getElementById("redoc-container");
  Redoc.init(container.dataset.specUrl, {nonce: container.dataset.nonce}, container);
})();
"""


def page_language(request: Request) -> str:
    """The language of the schema the page loads: `?lang=` when it names one of ours (as the schema view reads it),
    otherwise the request's. The page's <html lang> says it, so screen readers speak the summaries right."""
    lang = request.GET.get("lang")
    if lang in dict(settings.LANGUAGES):
        return str(lang)
    return get_language() or "ja"


class OpenWithinNetworks(APIView):
    """No key, no scope, no rate limit per key: what the network gate lets through may read the description."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()
    # Read by tests/security/test_access_control.py: these /api/ routes answer without a key.
    open_without_key = True


class SchemaView(OpenWithinNetworks, SpectacularAPIView):
    """OpenAPI 3.1 (YAML; ?format=json for JSON), Japanese by default, `?lang=en` in English."""


class SwaggerView(OpenWithinNetworks, SpectacularSwaggerSplitView):
    url_name = SCHEMA_URL_NAME
    template_name = "madoguchi/api/swagger_ui.html"
    template_name_js = "madoguchi/api/swagger_ui.js"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response: Response = super().get(request, *args, **kwargs)
        if isinstance(response.data, dict):
            response.data["language"] = page_language(request)
        return response


class RedocView(OpenWithinNetworks, SpectacularRedocView):
    url_name = SCHEMA_URL_NAME
    template_name = "madoguchi/api/redoc.html"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        if request.GET.get("script") is not None:
            return HttpResponse(REDOC_SCRIPT, content_type="application/javascript")
        return Response(
            data={
                "title": spectacular_settings.TITLE,
                "language": page_language(request),
                "redoc_standalone": self._redoc_standalone(),
                "schema_url": self._get_schema_url(request),
                "script_url": set_query_parameters(
                    url=get_relative_url(request.path), lang=request.GET.get("lang"), script=""
                ),
                "nonce": str(request._request.csp_nonce),  # type: ignore[attr-defined]
            },
            template_name=self.template_name,
        )


# Redoc's bundle adds one <style> element as it loads, before Redoc.init can give it the nonce: perfect-scrollbar's
# CSS (the sidebar's scrollbars), put in by webpack's style-loader, first empty and then filled. The page allows
# exactly those two contents by their hashes (Chromium names them in its report when they are refused). A newer
# sidecar with other CSS there fails tests/browser/test_api_docs.py, which names the hash to put here.
REDOC_LOAD_STYLE_HASHES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty element
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar's CSS
)

# Redoc's <style> elements carry the nonce; its search runs in a worker made from a blob: address.
redoc_view = csp_update({"style-src": [NONCE, *REDOC_LOAD_STYLE_HASHES], "worker-src": ["blob:"]})(
    RedocView.as_view()
)
