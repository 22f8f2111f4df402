// Starts Swagger UI on the Basalt API docs page. Served as a file (not inline) so the page works
// under a Content-Security-Policy without 'unsafe-inline' scripts. The spec URL comes from the page.
(function () {
  var el = document.getElementById('swagger-ui');
  // eslint-disable-next-line no-undef
  window.ui = SwaggerUIBundle({
    url: el.getAttribute('data-spec-url'),
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    // eslint-disable-next-line no-undef
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
    persistAuthorization: false,
  });
})();
