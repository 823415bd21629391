/* Starts Swagger UI on /docs. An external file, because the Content-Security-Policy allows
 * no inline script. Requests sent with "Try it out" from a logged-in browser carry the
 * session's CSRF token, as every state-changing session request must. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  function start() {
    var holder = document.getElementById("swagger-ui");
    if (!holder || !window.SwaggerUIBundle) return;
    window.ui = window.SwaggerUIBundle({
      url: holder.getAttribute("data-openapi-url"),
      domNode: holder,
      deepLinking: true,
      presets: [window.SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
      requestInterceptor: function (request) {
        var token = csrfToken();
        if (token && request.method && request.method.toUpperCase() !== "GET") {
          request.headers["X-CSRF-Token"] = token;
        }
        return request;
      }
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
