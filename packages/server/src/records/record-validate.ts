/**
 * Input validation for record writes: turn a client body into field values, PocketBase-style
 * (`field+` / `field-` modifiers, zero values for absent fields), and report every problem per field.
 * Compiled per collection version, run per request.
 */
import { BasaltError, type FieldErrors } from '../errors/index.ts';
import { FORBIDDEN_KEYS, ID_PATTERN, MAX_JSON_DEPTH, formatTimestamp, hashPassword, inspectJson, newId, normalizeTimestamp, screenPassword, verifyPassword } from '../tools/index.ts';
import { DEFAULT_SECRET_MAX, isMultiValued, zeroValue, type Collection, type Field } from '../schema/index.ts';

/** Largest JSON field value, in bytes of its JSON text, when the field sets no `maxSize`. */
export const DEFAULT_JSON_MAX_SIZE = 1024 * 1024;

/** Keys a client may send back unchanged (they come with every record it reads) and that are ignored. */
const PASSTHROUGH_KEYS = new Set(['collectionId', 'collectionName', 'expand']);

const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/;

/** What {@link prepareWrite} produces: the values to store and the relation ids to check exist. */
export interface PreparedWrite {
  /** Column → API value (validated, not yet encoded). Only changed columns on update. */
  values: Record<string, unknown>;
  /** Relation checks: ids that must exist in the target collection, per field. */
  relationChecks: { field: string; collectionId: string; ids: string[] }[];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Count of Unicode code points (what users mean by "characters"). */
function charLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function domainAllowed(field: { exceptDomains?: string[]; onlyDomains?: string[] }, domain: string): boolean {
  const d = domain.toLowerCase();
  if (field.onlyDomains?.length && !field.onlyDomains.some((x) => x.toLowerCase() === d)) return false;
  if (field.exceptDomains?.length && field.exceptDomains.some((x) => x.toLowerCase() === d)) return false;
  return true;
}

/** Coerce one submitted value to the field's API type, or answer an error code/message. */
function coerce(field: Field, v: unknown): { value: unknown } | { code: string; message: string } {
  const bad = (code: string, message: string) => ({ code, message });
  if (v === null) return { value: zeroValue(field) };
  switch (field.type) {
    case 'text':
    case 'email':
    case 'url':
    case 'password':
    case 'secret':
      return typeof v === 'string' ? { value: v } : bad('validation_invalid_type', 'Must be a string.');
    case 'date':
    case 'autodate': {
      if (typeof v !== 'string') return bad('validation_invalid_date', 'Must be a date string.');
      const n = normalizeTimestamp(v);
      return n === null ? bad('validation_invalid_date', 'Must be a valid date.') : { value: n };
    }
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? { value: v } : bad('validation_invalid_number', 'Must be a finite number.');
    case 'bool':
      return typeof v === 'boolean' ? { value: v } : bad('validation_invalid_bool', 'Must be true or false.');
    case 'json':
      return { value: v };
    case 'select':
    case 'relation': {
      if (isMultiValued(field)) {
        const arr = typeof v === 'string' ? (v === '' ? [] : [v]) : v;
        if (!Array.isArray(arr) || arr.some((x) => typeof x !== 'string')) return bad('validation_invalid_type', 'Must be a list of strings.');
        return { value: [...new Set(arr as string[])].filter((x) => x !== '') };
      }
      if (Array.isArray(v) && v.length <= 1 && v.every((x) => typeof x === 'string')) return { value: v[0] ?? '' };
      return typeof v === 'string' ? { value: v } : bad('validation_invalid_type', 'Must be a string.');
    }
  }
}

function isZero(v: unknown): boolean {
  return v === '' || v === 0 || v === false || v === null || v === undefined || (Array.isArray(v) && v.length === 0);
}

/** Check a final value against the field's constraints. */
function check(field: Field, v: unknown): { code: string; message: string } | undefined {
  if (field.required && isZero(v) && field.type !== 'autodate') return { code: 'validation_required', message: 'Cannot be blank.' };
  if (isZero(v) && field.type !== 'json') return undefined;
  switch (field.type) {
    case 'text': {
      const s = v as string;
      const len = charLength(s);
      if (field.min && len < field.min) return { code: 'validation_min_text_constraint', message: `Must be at least ${field.min} character(s).` };
      const max = field.max || 5000;
      if (len > max) return { code: 'validation_max_text_constraint', message: `Must be less than ${max} character(s).` };
      if (field.pattern && !new RegExp(field.pattern, 'u').test(s)) return { code: 'validation_invalid_format', message: 'Invalid value format.' };
      return undefined;
    }
    case 'password': {
      const len = charLength(v as string);
      if (len < (field.min ?? 8)) return { code: 'validation_min_text_constraint', message: `Must be at least ${field.min ?? 8} character(s).` };
      if (len > (field.max || 256)) return { code: 'validation_max_text_constraint', message: `Must be at most ${field.max || 256} character(s).` };
      return undefined;
    }
    case 'secret': {
      // Checked on the plaintext; the stored (sealed) form is longer and never validated.
      const max = field.max || DEFAULT_SECRET_MAX;
      if (charLength(v as string) > max) return { code: 'validation_max_text_constraint', message: `Must be at most ${max} character(s).` };
      return undefined;
    }
    case 'number': {
      const n = v as number;
      // A modifier sum can overflow (`n+: 1.7e308` twice): Infinity would be stored and shown as null.
      if (!Number.isFinite(n)) return { code: 'validation_invalid_number', message: 'Must be a finite number.' };
      if (field.onlyInt && !Number.isInteger(n)) return { code: 'validation_only_int_constraint', message: 'Decimal numbers are not allowed.' };
      if (field.min != null && n < field.min) return { code: 'validation_min_number_constraint', message: `Must be larger than ${field.min}.` };
      if (field.max != null && n > field.max) return { code: 'validation_max_number_constraint', message: `Must be less than ${field.max}.` };
      return undefined;
    }
    case 'email': {
      const s = v as string;
      if (s.length > 254 || !EMAIL.test(s)) return { code: 'validation_is_email', message: 'Must be a valid email address.' };
      if (!domainAllowed(field, s.slice(s.lastIndexOf('@') + 1))) return { code: 'validation_email_domain_not_allowed', message: 'Email domain is not allowed.' };
      return undefined;
    }
    case 'url': {
      let u: URL;
      try {
        u = new URL(v as string);
      } catch {
        return { code: 'validation_is_url', message: 'Must be a valid url.' };
      }
      if (!/^https?:$/.test(u.protocol) || (v as string).length > 2048) return { code: 'validation_is_url', message: 'Must be a valid http(s) url.' };
      if (!domainAllowed(field, u.hostname)) return { code: 'validation_url_domain_not_allowed', message: 'Url domain is not allowed.' };
      return undefined;
    }
    case 'date': {
      const s = v as string;
      if (field.min && s < field.min) return { code: 'validation_min_date_constraint', message: `Must be no earlier than ${field.min}.` };
      if (field.max && s > field.max) return { code: 'validation_max_date_constraint', message: `Must be no later than ${field.max}.` };
      return undefined;
    }
    case 'select': {
      const list = Array.isArray(v) ? (v as string[]) : [v as string];
      if (list.some((x) => !field.values.includes(x))) return { code: 'validation_invalid_value', message: `Value must be one of: ${field.values.join(', ')}.` };
      if (list.length > (field.maxSelect ?? 1)) return { code: 'validation_too_many_values', message: `Select no more than ${field.maxSelect}.` };
      return undefined;
    }
    case 'relation': {
      const list = Array.isArray(v) ? (v as string[]) : [v as string];
      if (list.some((x) => !ID_PATTERN.test(x) && !/^[a-zA-Z0-9_]{1,64}$/.test(x))) return { code: 'validation_invalid_id', message: 'Invalid record id.' };
      if (list.length > (field.maxSelect ?? 1)) return { code: 'validation_too_many_values', message: `Select no more than ${field.maxSelect}.` };
      if (field.minSelect && list.length < field.minSelect) return { code: 'validation_not_enough_values', message: `Select at least ${field.minSelect}.` };
      return undefined;
    }
    case 'json': {
      if (field.required && (v === null || v === '' || (Array.isArray(v) && v.length === 0) || (isPlainObject(v) && Object.keys(v).length === 0))) {
        return { code: 'validation_required', message: 'Cannot be blank.' };
      }
      const size = Buffer.byteLength(JSON.stringify(v ?? null));
      const max = field.maxSize || DEFAULT_JSON_MAX_SIZE;
      if (size > max) return { code: 'validation_json_size_limit', message: `The maximum allowed JSON size is ${max} bytes.` };
      return undefined;
    }
    default:
      return undefined;
  }
}

/** The record ids of a relation value (one id or a list). */
function idList(v: unknown): string[] {
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string' && x !== '');
}

/** Who is writing, for the auth fields that only some callers may set. */
export interface WriteAuthority {
  /** A superuser, or a caller the collection's manageRule admits: may set `verified`, `email`, `password` freely. */
  privileged: boolean;
  /** A superuser: may set `readonly` fields. */
  superuser?: boolean;
  /** On update of an auth record: its stored password hash, to check `oldPassword` against. */
  passwordHash?: string;
}

/**
 * Auth fields a non-privileged caller may not set (mass assignment): `verified` and `roles` always,
 * `email` on update. Checked on the values the write would store, so every key form (`roles`,
 * `+roles`, `roles+`, `+roles+`, `roles-`, …) is covered.
 */
function authFieldGuard(c: Collection, values: Record<string, unknown>, existing: Record<string, unknown> | undefined, who: WriteAuthority, errors: FieldErrors): void {
  if (c.type !== 'auth' || who.privileged) return;
  if ('verified' in values && values.verified !== (existing?.verified ?? false)) {
    errors.verified = { code: 'validation_forbidden_field', message: 'Only superusers (or the manage rule) can change this field.' };
  }
  if (existing && 'email' in values && values.email !== existing.email) {
    errors.email = { code: 'validation_forbidden_field', message: 'The email can only be changed by superusers (or the manage rule).' };
  }
  // Roles grant access: only superusers (or the manage rule) assign them, on create as on update.
  const roles = c.fields.find((f) => f.name === 'roles' && f.system);
  if (roles && 'roles' in values && JSON.stringify(values.roles ?? []) !== JSON.stringify(existing?.roles ?? zeroValue(roles))) {
    errors.roles = { code: 'validation_forbidden_field', message: 'Roles can only be assigned by superusers (or the manage rule).' };
  }
}

/**
 * A write body resolved against the collection, before any check that depends on who writes: every key
 * mapped to its field, modifiers applied to the current values, and the body as rules see it.
 * Made by {@link resolveWrite}, finished by {@link finishWrite}.
 */
export interface ResolvedWrite {
  /**
   * `@request.body` for the collection's rules: every key that names a field appears under the field's
   * name with the value the write will store (`{"credits+": 5}` on a record holding 10 reads as
   * `credits = 15`, `{"+tags": "x"}` as the whole new list), as PocketBase exposes it. Keys that name no
   * field (`passwordConfirm`, `oldPassword`, …) stay as sent; fields the server ignores (`autodate`) are
   * absent, since nothing is stored for them. A key whose value failed validation keeps its sent value
   * under the field's name, so a guard such as `@request.body.credits:isset = false` still sees it
   * (as `null` when it holds a NUL character or nests too deeply).
   */
  ruleBody: Record<string, unknown>;
  /** Per-key problems found so far (types, unknown fields, modifiers, NUL characters, …). */
  errors: FieldErrors;
  /** The body as sent. */
  readonly body: Record<string, unknown>;
  /** Fields set by their plain key, with the coerced value. */
  readonly submitted: ReadonlyMap<Field, unknown>;
  /** Every field the write sets (plain key or modifier), with the value it will store. */
  readonly merged: ReadonlyMap<Field, unknown>;
}

/** A field error for a value that holds a NUL character or nests too deeply; undefined when it is clean. */
function inputLimitError(raw: unknown): { code: string; message: string } | undefined {
  const problem = inspectJson(raw, MAX_JSON_DEPTH);
  if (!problem) return undefined;
  return problem.problem === 'nul'
    ? { code: 'validation_nul_character', message: 'Must not contain NUL characters.' }
    : { code: 'validation_json_too_deep', message: `Must not nest deeper than ${MAX_JSON_DEPTH} levels.` };
}

/**
 * Resolve a create (`existing` undefined) or update body: map keys to fields (`f`, `+f`, `f+`, `f-`),
 * coerce values, apply modifiers in PocketBase's order (the plain key first, then each modifier as
 * sent), and build the body rules see. Never throws for bad input: problems are collected in `errors`,
 * which {@link finishWrite} reports, so the caller can check its rules first and answer a denied
 * caller without revealing validation details.
 */
export function resolveWrite(c: Collection, body: unknown, existing?: Record<string, unknown>): ResolvedWrite {
  const input = isPlainObject(body) ? body : {};
  const errors: FieldErrors = {};
  const fieldsByName = new Map(c.fields.map((f) => [f.name, f]));
  const submitted = new Map<Field, unknown>();
  const modifiers: { field: Field; op: '+' | '-'; value: unknown; prepend: boolean; key: string }[] = [];
  const ruleBody: Record<string, unknown> = {};
  /** Raw values of field keys that failed, shown to rules under the field name when nothing valid replaces them. */
  const failed = new Map<Field, unknown>();
  const isAuth = c.type === 'auth';

  for (const [key, raw] of Object.entries(input)) {
    if (FORBIDDEN_KEYS.has(key)) {
      errors[key] = { code: 'validation_forbidden_key', message: 'This key is not allowed.' };
      continue;
    }
    const m = /^(\+)?([a-zA-Z_][a-zA-Z0-9_]*)([+-])?$/.exec(key);
    const field = m ? fieldsByName.get(m[2]) : undefined;
    const limit = inputLimitError(raw);
    // A value refused outright (NUL, too deep) reads as null: still "set", and never a query parameter.
    if (!field) ruleBody[key] = limit ? null : raw;
    if (PASSTHROUGH_KEYS.has(key) || (isAuth && (key === 'passwordConfirm' || key === 'oldPassword'))) {
      // Not stored; still checked, since a hook or a later step may read them.
      if (limit) errors[key] = limit;
      continue;
    }
    if (!m || !field) {
      errors[key] = { code: 'validation_unknown_field', message: 'Unknown field.' };
      continue;
    }
    if (field.type === 'autodate') continue; // set by the server only, like PocketBase
    if (limit) {
      errors[key] = limit;
      failed.set(field, null);
      continue;
    }
    if (field.system && field.name === 'tokenKey') {
      errors[key] = { code: 'validation_forbidden_key', message: 'This field cannot be set.' };
      failed.set(field, raw);
      continue;
    }
    if (field.name === 'id') {
      if (m[1] || m[3]) {
        errors[key] = { code: 'validation_invalid_modifier', message: 'Only number and multi-value fields take + and - modifiers.' };
        failed.set(field, raw);
        continue;
      }
      if (existing) {
        if (raw !== existing.id) errors.id = { code: 'validation_id_immutable', message: 'The id cannot be changed.' };
        else submitted.set(field, raw);
        continue;
      }
      if (raw === '' || raw === null) continue;
      if (typeof raw !== 'string' || !ID_PATTERN.test(raw)) {
        errors.id = { code: 'validation_invalid_id', message: 'Ids are 15 lowercase letters and digits.' };
        failed.set(field, raw);
      } else submitted.set(field, raw);
      continue;
    }
    if (m[1] || m[3]) {
      if (!(field.type === 'number' || isMultiValued(field))) {
        errors[key] = { code: 'validation_invalid_modifier', message: 'Only number and multi-value fields take + and - modifiers.' };
        failed.set(field, raw);
        continue;
      }
      modifiers.push({ field, op: (m[3] as '+' | '-') ?? '+', value: raw, prepend: Boolean(m[1]), key });
      continue;
    }
    const r = coerce(field, raw);
    if ('code' in r) {
      errors[key] = r;
      failed.set(field, raw);
    } else submitted.set(field, r.value);
  }

  const merged = new Map<Field, unknown>();
  for (const mod of modifiers) {
    const f = mod.field;
    let v = merged.has(f) ? merged.get(f) : submitted.has(f) ? submitted.get(f) : existing ? existing[f.name] : zeroValue(f);
    if (f.type === 'number') {
      if (typeof mod.value !== 'number' || !Number.isFinite(mod.value)) {
        errors[mod.key] = { code: 'validation_invalid_number', message: 'Must be a finite number.' };
        failed.set(f, mod.value);
        continue;
      }
      v = (typeof v === 'number' ? v : 0) + (mod.op === '+' ? mod.value : -mod.value);
    } else {
      const items = typeof mod.value === 'string' ? [mod.value] : mod.value;
      if (!Array.isArray(items) || items.some((x) => typeof x !== 'string')) {
        errors[mod.key] = { code: 'validation_invalid_type', message: 'Must be a string or a list of strings.' };
        failed.set(f, mod.value);
        continue;
      }
      const cur = Array.isArray(v) ? (v as string[]) : [];
      v = mod.op === '-' ? cur.filter((x) => !items.includes(x)) : mod.prepend ? [...new Set([...items, ...cur])] : [...new Set([...cur, ...items])];
    }
    merged.set(f, v);
  }
  for (const [f, v] of submitted) if (!merged.has(f)) merged.set(f, v);
  for (const [f, v] of merged) ruleBody[f.name] = v;
  for (const [f, raw] of failed) if (!(f.name in ruleBody)) ruleBody[f.name] = raw;
  return { ruleBody, errors, body: input, submitted, merged };
}

/**
 * Finish a resolved write: the checks that depend on who writes (auth fields, read-only fields, the
 * password and its confirmation), every field's constraints, password hashing and token keys.
 * Throws `validation_failed` with every field's problem at once (those of {@link resolveWrite} too).
 */
export async function finishWrite(c: Collection, resolved: ResolvedWrite, existing?: Record<string, unknown>, who: WriteAuthority = { privileged: true }): Promise<PreparedWrite> {
  const { body, submitted, merged } = resolved;
  const errors: FieldErrors = { ...resolved.errors };
  const isAuth = c.type === 'auth';
  const now = formatTimestamp();
  const values: Record<string, unknown> = {};
  const relationChecks: PreparedWrite['relationChecks'] = [];
  for (const f of c.fields) {
    const has = submitted.has(f);
    const touched = merged.has(f);
    if (f.name === 'id') {
      if (!existing) values.id = has ? submitted.get(f) : newId();
      continue;
    }
    if (f.system && f.name === 'tokenKey') continue; // generated below, never from input
    if (f.type === 'autodate') {
      if ((!existing && f.onCreate) || (existing && f.onUpdate)) values[f.name] = now;
      else if (!existing) values[f.name] = '';
      continue;
    }
    const v = touched ? merged.get(f) : existing ? existing[f.name] : zeroValue(f);
    if (f.type === 'password') {
      if (!has) {
        if (!existing && f.required) errors[f.name] = { code: 'validation_required', message: 'Cannot be blank.' };
        continue;
      }
      const problem = check(f, v);
      const weak = problem ? undefined : screenPassword(v as string, [String(body.email ?? existing?.email ?? '')]);
      if (problem) errors[f.name] = problem;
      else if (weak) errors[f.name] = { code: 'validation_password_weak', message: weak };
      else if (isAuth && (!existing || !who.privileged) && body.passwordConfirm !== v) {
        // PocketBase asks for the password twice on sign-up and on every change a user makes.
        errors.passwordConfirm = { code: 'validation_values_mismatch', message: 'Values don\'t match.' };
      } else if (isAuth && existing && !who.privileged && !(typeof body.oldPassword === 'string' && who.passwordHash && (await verifyPassword(body.oldPassword, who.passwordHash)))) {
        errors.oldPassword = { code: 'validation_invalid_old_password', message: 'Missing or invalid old password.' };
      } else if (!Object.keys(errors).length) values[f.name] = await hashPassword(v as string);
      continue;
    }
    if (!errors[f.name]) {
      const problem = check(f, v);
      if (problem) errors[f.name] = problem;
    }
    if (!existing || touched) values[f.name] = v;
    // Modified relations are checked like replaced ones (`rel+` must not store a dangling id either),
    // for the ids the write adds: those the locked row holds already exist (a delete unlinks them).
    if (f.type === 'relation' && (touched || !existing) && !errors[f.name]) {
      const held = new Set(existing ? idList(existing[f.name]) : []);
      const ids = idList(v).filter((x) => !held.has(x));
      if (ids.length) relationChecks.push({ field: f.name, collectionId: f.collectionId, ids });
    }
  }
  authFieldGuard(c, values, existing, who, errors);
  if (!who.superuser) {
    // Read-only fields: set by superusers (or hooks) only. Compared on the values the write would store.
    for (const f of c.fields) {
      if (f.readonly && f.type !== 'autodate' && f.type !== 'password' && f.name in values && JSON.stringify(values[f.name]) !== JSON.stringify(existing ? existing[f.name] : zeroValue(f))) {
        errors[f.name] = { code: 'validation_forbidden_field', message: 'This field is read-only.' };
      }
    }
  }
  if (isAuth && !existing) values.tokenKey = newId(50);
  if (isAuth && existing && 'password' in values) values.tokenKey = newId(50); // a new password ends old tokens
  // So does a new email (PocketBase): sessions and email tokens issued for the old address end.
  if (isAuth && existing && 'email' in values && values.email !== existing.email) values.tokenKey = newId(50);
  if (Object.keys(errors).length) throw new BasaltError('validation_failed', { data: errors });
  return { values, relationChecks };
}

/**
 * Validate a create (`existing` undefined) or update body and produce the values to write
 * ({@link resolveWrite} then {@link finishWrite}). Throws `validation_failed` with every field's problem at once.
 */
export async function prepareWrite(c: Collection, body: unknown, existing?: Record<string, unknown>, who: WriteAuthority = { privileged: true }): Promise<PreparedWrite> {
  if (!isPlainObject(body)) throw new BasaltError('validation_failed', { message: 'The request body must be a JSON object.' });
  return finishWrite(c, resolveWrite(c, body, existing), existing, who);
}

/**
 * Cast the string values of an HTML/multipart form to the field types, as PocketBase does: numbers
 * from numeric text, booleans from `true`/`1`/`on` and `false`/`0`/`off`/empty, JSON from its text.
 * Values that do not cast stay strings, so validation reports them.
 */
export function castFormValues(c: Collection, body: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body };
  for (const [key, v] of Object.entries(body)) {
    const name = key.replace(/^\+|[+-]$/g, '');
    const f = c.fields.find((x) => x.name === name);
    if (!f || typeof v !== 'string') continue;
    if (f.type === 'number') {
      const n = Number(v);
      if (v.trim() !== '' && Number.isFinite(n)) out[key] = n;
      else if (v === '') out[key] = 0;
    } else if (f.type === 'bool') {
      if (['true', '1', 'on'].includes(v.toLowerCase())) out[key] = true;
      else if (['false', '0', 'off', ''].includes(v.toLowerCase())) out[key] = false;
    } else if (f.type === 'json') {
      try {
        out[key] = v === '' ? null : JSON.parse(v);
      } catch {
        // left as text: a JSON field accepts a string value too
      }
    }
  }
  return out;
}
