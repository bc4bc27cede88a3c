/* The API's documentation page (/api/docs/): Swagger UI, from the files
   django-ninja ships, started here rather than from an inline script, which
   the pages' Content-Security-Policy refuses. The schema's address comes
   from the page (data-openapi-url). */
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  if (!root || typeof SwaggerUIBundle === "undefined") return;
  SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    // The token is typed in « Authorize »; keep it while the page is open only.
    persistAuthorization: false,
  });
});
