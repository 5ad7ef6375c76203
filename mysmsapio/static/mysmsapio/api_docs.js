// Swagger UI on /api/v1/openapi.json (a file, not inline: the admin's pages forbid inline scripts).
window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
