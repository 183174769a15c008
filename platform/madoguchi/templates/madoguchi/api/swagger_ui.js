"use strict";
// Served by /api/v1/docs/?script (no inline script: the CSP allows scripts from our own host only). The key typed
// into "Authorize" goes out as Authorization: Bearer with "Try it out"; it is not kept after the tab closes.
const ui = SwaggerUIBundle({
  url: "{{ schema_url|escapejs }}",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  ...{{ settings|safe }},
});
