/**
 * OpenAPI: the document of Basalt's REST API, generated from the live collections, and the offline
 * docs page (`GET /api/docs`) that renders it.
 */
export { buildOpenApiDocument, MAX_PER_PAGE, type OpenApiOptions, type OpenApiDocument } from './openapi-document.ts';
export {
  docsPageHtml, docsAssetRoutes, DOCS_BASE_PATH, DOCS_CONTENT_SECURITY_POLICY, type DocsAssetRoute,
} from './openapi-docs-page.ts';
