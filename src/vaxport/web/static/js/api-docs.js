// Starts Swagger UI (served from this origin) on the OpenAPI document named by the page.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") return;
  window.SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    domNode: root,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The browser's own session cookie and CSRF header are sent by "Try it out".
    withCredentials: true,
  });
})();
