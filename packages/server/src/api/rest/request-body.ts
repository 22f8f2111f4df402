/**
 * Request bodies: JSON (an empty JSON body is "no body", as the PocketBase SDK sends for DELETE) and
 * `multipart/form-data`, which the PocketBase SDK uses for batches and forms: the part named
 * `@jsonPayload` holds JSON, other text parts are string values (repeated names become lists). File
 * parts are refused until file fields exist.
 *
 * Both are content-type parsers (busboy for forms), not plugins with hooks: a global hook costs every
 * request, including the reads that never carry a body (docs/decisions/003).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import busboy from 'busboy';
import sjson from 'secure-json-parse';
import { BasaltError } from '../../errors/index.ts';
import { FORBIDDEN_KEYS } from '../../tools/index.ts';

/** Largest number of parts in one form. */
const MAX_PARTS = 1000;

/** The fields of a multipart form, as parsed. */
export class FormBody {
  readonly fields: Record<string, unknown>;
  constructor(fields: Record<string, unknown>) {
    this.fields = fields;
  }
}

function parseJson(text: string): unknown {
  try {
    // Prototype-poisoning keys are an error, never silently dropped.
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (e) {
    throw new BasaltError('json_invalid', { cause: e });
  }
}

function addField(out: Record<string, unknown>, name: string, value: string): void {
  if (FORBIDDEN_KEYS.has(name)) throw new BasaltError('validation_failed', { message: `The form field "${name}" is not allowed.` });
  if (name === '@jsonPayload') {
    const json = parseJson(value);
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new BasaltError('validation_failed', { message: '@jsonPayload must be a JSON object.' });
    Object.assign(out, json);
  } else if (Object.hasOwn(out, name)) {
    const prev = out[name];
    out[name] = Array.isArray(prev) ? [...prev, value] : [prev, value];
  } else {
    out[name] = value;
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

  app.addContentTypeParser('multipart/form-data', (request, payload, done) => {
    let finished = false;
    const finish = (err: Error | null, value?: unknown) => {
      if (finished) return;
      finished = true;
      if (err) payload.resume(); // drain, so the connection can answer
      done(err, value);
    };
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: request.headers, limits: { fieldSize: bodyLimit, fields: MAX_PARTS, parts: MAX_PARTS, files: MAX_PARTS } });
    } catch (e) {
      return finish(new BasaltError('bad_request', { message: 'Invalid multipart body.', cause: e }));
    }
    const fields: Record<string, unknown> = {};
    let size = 0;
    payload.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > bodyLimit) {
        payload.unpipe(bb);
        finish(new BasaltError('body_too_large'));
      }
    });
    bb.on('field', (name, value, info) => {
      if (finished) return;
      if (info.valueTruncated || info.nameTruncated) return finish(new BasaltError('body_too_large'));
      try {
        addField(fields, name, value);
      } catch (e) {
        finish(e as Error);
      }
    });
    bb.on('file', (_name, stream) => {
      stream.resume();
      finish(new BasaltError('unsupported_media_type', { message: 'File uploads are not supported yet.' }));
    });
    bb.on('partsLimit', () => finish(new BasaltError('body_too_large', { message: `A form holds at most ${MAX_PARTS} parts.` })));
    bb.on('fieldsLimit', () => finish(new BasaltError('body_too_large', { message: `A form holds at most ${MAX_PARTS} fields.` })));
    bb.on('error', (e) => finish(new BasaltError('bad_request', { message: 'Invalid multipart body.', cause: e })));
    bb.on('close', () => finish(null, new FormBody({ ...fields })));
    payload.pipe(bb);
  });
}

/**
 * The request body: the parsed JSON body, or the fields of a multipart form.
 * `form` tells the records layer to cast the form's string values.
 */
export function readBodyWithKind(request: FastifyRequest): { body: unknown; form: boolean } {
  const b = request.body;
  return b instanceof FormBody ? { body: b.fields, form: true } : { body: b, form: false };
}

/** The request body (JSON or form fields) as parsed data. */
export function readBody(request: FastifyRequest): unknown {
  return readBodyWithKind(request).body;
}
