/**
 * Request bodies: JSON (an empty JSON body is "no body", as the PocketBase SDK sends for DELETE) and
 * `multipart/form-data`, which the PocketBase SDK uses for batches and forms: the part named
 * `@jsonPayload` holds JSON, other text parts are string values (repeated names become lists). File
 * parts are refused until file fields exist.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import sjson from 'secure-json-parse';
import { BasaltError } from '../../errors/index.ts';
import { FORBIDDEN_KEYS } from '../../tools/index.ts';

/** Largest number of multipart parts and of bytes in one text part. */
const MAX_PARTS = 1000;

function parseJson(text: string): unknown {
  try {
    // Prototype-poisoning keys are an error, never silently dropped.
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (e) {
    throw new BasaltError('json_invalid', { cause: e });
  }
}

/** Register the JSON and multipart parsers. */
export function registerBodyParsers(app: FastifyInstance, bodyLimit: number): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, parseJson(text));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  void app.register(multipart, { limits: { fieldSize: bodyLimit, fields: MAX_PARTS, parts: MAX_PARTS, files: 1 }, throwFileSizeLimit: true });
}

/** True when the request carries a form (its body must be read with {@link readBody}). */
export function isForm(request: FastifyRequest): boolean {
  return request.isMultipart();
}

/**
 * The request body as an object: the parsed JSON body, or the fields of a multipart form.
 * Answers `{ body, form }`; `form` tells the records layer to cast string values.
 */
export async function readBodyWithKind(request: FastifyRequest): Promise<{ body: unknown; form: boolean }> {
  if (!request.isMultipart()) return { body: request.body, form: false };
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        part.file.resume();
        throw new BasaltError('unsupported_media_type', { message: 'File uploads are not supported yet.' });
      }
      if (FORBIDDEN_KEYS.has(part.fieldname)) throw new BasaltError('validation_failed', { message: `The form field "${part.fieldname}" is not allowed.` });
      const value = typeof part.value === 'string' ? part.value : String(part.value);
      if (part.fieldname === '@jsonPayload') {
        const json = parseJson(value);
        if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new BasaltError('validation_failed', { message: '@jsonPayload must be a JSON object.' });
        Object.assign(out, json);
      } else if (part.fieldname in out) {
        const prev = out[part.fieldname];
        out[part.fieldname] = Array.isArray(prev) ? [...prev, value] : [prev, value];
      } else {
        out[part.fieldname] = value;
      }
    }
  } catch (e) {
    if (e instanceof BasaltError) throw e;
    const code = (e as { code?: string }).code ?? '';
    if (/LIMIT|TOO_LARGE/.test(code)) throw new BasaltError('body_too_large', { cause: e });
    throw new BasaltError('bad_request', { message: 'The multipart body could not be read.', cause: e });
  }
  // A plain object again, so that later code can use ordinary property access.
  return { body: { ...out }, form: true };
}

/** The request body (JSON or form fields) as parsed data. */
export async function readBody(request: FastifyRequest): Promise<unknown> {
  return (await readBodyWithKind(request)).body;
}
