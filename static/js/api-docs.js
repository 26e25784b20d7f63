// Starts Swagger UI on /api/v1/docs (templates/api/docs.html). Its settings come from the page's JSON
// data block, since the CSP runs no inline script. A signed-in browser calls the API with its session,
// so its unsafe requests carry the CSRF token, as the API asks of sessions.
(function () {
  "use strict";
  const root = document.getElementById("swagger-ui");
  const settings = JSON.parse(document.getElementById("swagger-settings").textContent);
  const csrfToken = root.dataset.csrfToken;
  settings.dom_id = "#swagger-ui";
  settings.presets = [SwaggerUIBundle.presets.apis];
  settings.requestInterceptor = function (request) {
    if (csrfToken && !["GET", "HEAD", "OPTIONS"].includes((request.method || "GET").toUpperCase())) {
      request.headers["X-CSRFToken"] = csrfToken;
    }
    return request;
  };
  SwaggerUIBundle(settings);
})();
