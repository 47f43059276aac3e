// Render /openapi.json with Swagger UI. A file rather than an inline script, so a
// Content-Security-Policy of script-src 'self' allows it.
window.addEventListener("load", () => {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    // A token given to the Authorize button survives a reload of the page.
    persistAuthorization: true,
    // The default sends the document to an online validator: stay offline.
    validatorUrl: null,
  });
});
