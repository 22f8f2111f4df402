/**
 * Request bodies: JSON (an empty JSON body is "no body", as the PocketBase SDK sends for DELETE) and
 * `multipart/form-data`, which the PocketBase SDK uses for batches and forms: the part named
 * `@jsonPayload` holds JSON, other text parts are string values (repeated names become lists). File
 * parts are refused until file fields exist.
 *
 * Both are content-type parsers (busboy for forms), not plugins with hooks: a global hook costs every
 * request, including the reads that never carry a body (docs/decisions/003).
 *
 * Every parser applies the same input limits, so no route can forget them: a NUL character (U+0000)
 * anywhere in a key or string value is a 400 `validation_failed` (PostgreSQL text cannot hold it), and
 * JSON nested deeper than {@link MAX_JSON_DEPTH} levels is a 400 `json_too_deep` (recursive consumers
 * would overflow the stack).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import busboy from 'busboy';
import sjson from 'secure-json-parse';
import { BasaltError } from '../../errors/index.ts';
import { FORBIDDEN_KEYS, MAX_JSON_DEPTH, hasNul, inspectJson } from '../../tools/index.ts';

/** Largest number of parts in one form. */
const MAX_PARTS = 1000;

/** The fields of a multipart form, as parsed. */
export class FormBody {
  readonly fields: Record<string, unknown>;
  constructor(fields: Record<string, unknown>) {
    this.fields = fields;
  }
}

/** The answer to a NUL character in a body: a validation error, naming the top-level member when there is one. */
export function nulCharacterError(key?: string): BasaltError {
  return new BasaltError('validation_failed', {
    message: 'The request contains a NUL character (U+0000), which is not accepted.',
    data: key === undefined ? {} : { [key]: { code: 'validation_nul_character', message: 'Must not contain NUL characters.' } },
  });
}

function parseJson(text: string): unknown {
  let value: unknown;
  try {
    // Prototype-poisoning keys are an error, never silently dropped.
    value = sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' });
  } catch (e) {
    throw new BasaltError('json_invalid', { cause: e });
  }
  // JSON.parse itself is iterative; what comes after it (JSON.stringify, drivers, serialisers) is not.
  const problem = inspectJson(value, MAX_JSON_DEPTH);
  if (problem?.problem === 'too_deep') throw new BasaltError('json_too_deep');
  if (problem) throw nulCharacterError(problem.key);
  return value;
}

function addField(out: Record<string, unknown>, name: string, value: string): void {
  if (FORBIDDEN_KEYS.has(name)) throw new BasaltError('validation_failed', { message: `The form field "${name}" is not allowed.` });
  if (hasNul(name)) throw nulCharacterError();
  if (name !== '@jsonPayload' && hasNul(value)) throw nulCharacterError(name);
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

  // Plain text reaches no record field, but it is a body like any other: the same NUL rule applies.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (hasNul(text)) return done(nulCharacterError(), undefined);
    done(null, text);
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
