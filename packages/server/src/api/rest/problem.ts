/**
 * RFC 9457 problem+json answers that also carry PocketBase's `status`, `message` and `data`, plus
 * Basalt's stable `code`. Internal causes are logged, never serialised.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { BasaltError, errorCatalogue, isBasaltError, type ErrorCode } from '../../errors/index.ts';
import { observeReply, UNMATCHED_ROUTE, type Metrics } from '../../telemetry/index.ts';
import { baseHeaders } from './respond.ts';

/** The problem+json body for an error. */
export function problemBody(e: BasaltError): Record<string, unknown> {
  return {
    // Extension members first, so they can never replace a standard member.
    ...e.extensions,
    type: `urn:basalt:problem:${e.code}`,
    title: titleOf(e.status),
    status: e.status,
    detail: e.message,
    code: e.code,
    message: e.message,
    data: e.data,
  };
}

function titleOf(status: number): string {
  const titles: Record<number, string> = {
    400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
    409: 'Conflict', 412: 'Precondition Failed', 413: 'Content Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content',
    429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
  };
  return titles[status] ?? 'Error';
}

/** Map Fastify's own errors (body parsing, limits, content types) onto the catalogue. */
function fromFastify(e: FastifyError): BasaltError | undefined {
  const code = e.code ?? '';
  const map: Record<string, ErrorCode> = {
    FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'json_invalid',
    FST_ERR_CTP_INVALID_JSON_BODY: 'json_invalid',
    FST_ERR_BAD_URL: 'bad_request',
    FST_ERR_ASYNC_CONSTRAINT: 'bad_request',
  };
  if (map[code]) return new BasaltError(map[code], { cause: e });
  if (e instanceof SyntaxError || /JSON/.test(e.message) || /prototype|constructor/i.test(e.message)) {
    if (e.statusCode === 400 || e instanceof SyntaxError) return new BasaltError('json_invalid', { cause: e });
  }
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
    const byStatus = Object.entries(errorCatalogue).find(([, v]) => v.status === e.statusCode)?.[0] as ErrorCode | undefined;
    return new BasaltError(byStatus ?? 'bad_request', { cause: e });
  }
  return undefined;
}

/** A Fastify error handler: every error becomes problem+json; 5xx causes go to the log only. */
export function errorHandler(metrics: Metrics) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => handleError(metrics, error, request, reply);
}

function handleError(metrics: Metrics, error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  let e: BasaltError;
  if (isBasaltError(error)) e = error;
  else e = fromFastify(error) ?? new BasaltError('internal', { cause: error });
  if (e.status >= 500) request.log.error({ reqId: request.id, err: error }, 'request failed');
  else if (e.cause) request.log.debug({ reqId: request.id, err: e.cause, code: e.code }, 'client error');
  void sendProblem(reply, e, metrics, request);
}

/** Send a BasaltError as problem+json (from hooks and handlers that answer themselves). */
export function sendProblem(reply: FastifyReply, e: BasaltError, metrics?: Metrics, request?: FastifyRequest): FastifyReply {
  reply.code(e.status);
  if (request) baseHeaders(request, reply);
  if (metrics && request) observeReply(metrics, request, reply, request.routeLabel ?? UNMATCHED_ROUTE);
  return reply.type('application/problem+json; charset=utf-8').send(problemBody(e));
}
