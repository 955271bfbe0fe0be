// /api/docs: starts Swagger UI (web/static/vendor/swagger-ui-bundle.js, from npm) on the
// document named by the page. A file, not an inline script, so the CSP needs no 'unsafe-inline'.
"use strict";
(function () {
  const root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.specUrl,
    domNode: root,
    deepLinking: true,
    // The default sends the document to validator.swagger.io and shows its badge: nothing
    // leaves this origin (and the CSP would block the badge image anyway).
    validatorUrl: null,
  });
})();
