/**
 * The `GET /api/docs` page: Swagger UI from the `swagger-ui-dist` npm package, served by Basalt itself
 * (the server may have no internet, so nothing comes from a CDN). No inline script: the page loads the
 * bundle and a small initializer from `/api/docs/…`, so it runs under {@link DOCS_CONTENT_SECURITY_POLICY}.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the docs page and its assets are served. */
export const DOCS_BASE_PATH = '/api/docs';

/**
 * A Content-Security-Policy under which the docs page works: scripts and styles only from this origin
 * (Swagger UI sets some styles at run time, hence `'unsafe-inline'` for styles only), the spec fetched
 * from this origin.
 */
export const DOCS_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** A static file the server must serve for the docs page. */
export interface DocsAssetRoute {
  /** URL path, under {@link DOCS_BASE_PATH}. */
  path: string;
  contentType: string;
  /** Absolute file path on disk. */
  file: string;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * The HTML of the docs page. Serve it as `text/html; charset=utf-8`, ideally with
 * {@link DOCS_CONTENT_SECURITY_POLICY}, and serve {@link docsAssetRoutes} beside it.
 *
 * @example
 * app.get('/api/docs', (_req, reply) => reply
 *   .header('content-security-policy', DOCS_CONTENT_SECURITY_POLICY)
 *   .type('text/html; charset=utf-8').send(docsPageHtml('/api/openapi.json')));
 */
export function docsPageHtml(specUrl: string, assetBase: string = DOCS_BASE_PATH): string {
  const a = escapeHtml(assetBase.replace(/\/+$/, ''));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Basalt API reference</title>
<link rel="stylesheet" href="${a}/swagger-ui.css">
<link rel="icon" type="image/png" href="${a}/favicon-32x32.png" sizes="32x32">
</head>
<body>
<noscript>This page needs JavaScript. The raw document is at <a href="${escapeHtml(specUrl)}">${escapeHtml(specUrl)}</a>.</noscript>
<div id="swagger-ui" data-spec-url="${escapeHtml(specUrl)}"></div>
<script src="${a}/swagger-ui-bundle.js" charset="utf-8"></script>
<script src="${a}/docs-page-init.js" charset="utf-8"></script>
</body>
</html>
`;
}

/**
 * The files the docs page loads, with the URL path each must be served at (under `/api/docs/`).
 * Paths are fixed; `file` is resolved from the installed `swagger-ui-dist` package.
 *
 * @example
 * for (const r of docsAssetRoutes()) app.get(r.path, (_req, reply) => reply.type(r.contentType).send(createReadStream(r.file)));
 */
export function docsAssetRoutes(): DocsAssetRoute[] {
  const require = createRequire(import.meta.url);
  const dist = dirname(require.resolve('swagger-ui-dist/package.json'));
  const here = dirname(fileURLToPath(import.meta.url));
  const js = 'text/javascript; charset=utf-8';
  return [
    { path: `${DOCS_BASE_PATH}/swagger-ui.css`, contentType: 'text/css; charset=utf-8', file: join(dist, 'swagger-ui.css') },
    { path: `${DOCS_BASE_PATH}/swagger-ui-bundle.js`, contentType: js, file: join(dist, 'swagger-ui-bundle.js') },
    { path: `${DOCS_BASE_PATH}/favicon-32x32.png`, contentType: 'image/png', file: join(dist, 'favicon-32x32.png') },
    { path: `${DOCS_BASE_PATH}/docs-page-init.js`, contentType: js, file: join(here, 'docs-page-init.js') },
  ];
}
