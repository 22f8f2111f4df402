/**
 * Turn a client's collection body (PocketBase v0.23+ shape) into a normalised {@link Collection},
 * or a `collection_invalid` error with per-member details. Pure: no I/O.
 */
import { BasaltError, type FieldErrors } from '../errors/index.ts';
import { FORBIDDEN_KEYS, NAME_PATTERN, formatTimestamp, newId, normalizeTimestamp } from '../tools/index.ts';
import { DEFAULT_SECRET_MAX, authOptions, type Collection, type Field, type FieldType, type IndexDef, type Rule } from './collection-model.ts';
import { AUTH_OPTION_KEYS, normalizeAuthOptions } from './collection-auth-options.ts';

const FIELD_TYPES: readonly FieldType[] = ['text', 'number', 'bool', 'email', 'url', 'date', 'select', 'json', 'relation', 'autodate', 'password', 'secret'];

/** Names a field may not take: they are part of every record's JSON. */
const RESERVED_FIELD_NAMES = new Set(['collectionid', 'collectionname', 'expand', ...FORBIDDEN_KEYS]);

/** Largest number of fields a collection may have. */
export const MAX_FIELDS = 200;
/** Largest number of select values. */
const MAX_SELECT_VALUES = 1000;
/** Longest accepted rule text. */
export const MAX_RULE_LENGTH = 3500;

const RULE_KEYS = ['listRule', 'viewRule', 'createRule', 'updateRule', 'deleteRule'] as const;
/** The five rule members of a collection. */
export type RuleKey = (typeof RULE_KEYS)[number];
export const ruleKeys: readonly RuleKey[] = RULE_KEYS;

/** The `id` field every collection has. */
export function idField(): Field {
  return {
    id: 'text3208210256',
    name: 'id',
    type: 'text',
    system: true,
    required: true,
    primaryKey: true,
    min: 15,
    max: 15,
    pattern: '^[a-z0-9]+$',
    autogeneratePattern: '[a-z0-9]{15}',
    hidden: false,
    presentable: false,
  };
}

/**
 * The minimum password length of an auth collection: configurable, never below NIST SP 800-63B's 8
 * (and at most 64, since at least 64 characters must be allowed).
 */
function passwordMin(p: Problems, path: string, v: unknown, current: number | undefined): number {
  if (v === undefined || v === null) return current ?? 8;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 8 || v > 64) {
    p.add(path, 'validation_invalid_number', 'The minimum password length must be a whole number from 8 to 64.');
    return current ?? 8;
  }
  return v;
}

/** The system fields of every auth collection (PocketBase's), in order after `id`. */
export function authFields(): Field[] {
  return [
    { id: 'password901924565', name: 'password', type: 'password', system: true, hidden: true, required: true, min: 8, max: 256 },
    { id: 'text2504183744', name: 'tokenKey', type: 'text', system: true, hidden: true, required: true, min: 30, max: 60 },
    { id: 'email3885137012', name: 'email', type: 'email', system: true, required: true, unique: true, exceptDomains: [], onlyDomains: [] },
    { id: 'bool1547992806', name: 'emailVisibility', type: 'bool', system: true },
    { id: 'bool256245529', name: 'verified', type: 'bool', system: true },
  ];
}

/** The id of the `_roles` system collection (fixed, so auth collections can reference it before it loads). */
export const ROLES_COLLECTION_ID = 'pbc_roles00001';

/**
 * The `roles` system field of user auth collections: the record's roles (a relation to `_roles`).
 * Only superusers and the collection's manage rule may change it; rules read the role *names* as
 * `@request.auth.roles` and their permissions as `@request.auth.permissions`.
 */
export function rolesField(): Field {
  return { id: 'relation_roles01', name: 'roles', type: 'relation', system: true, collectionId: ROLES_COLLECTION_ID, maxSelect: 100, minSelect: 0, cascadeDelete: false };
}

const AUTH_FIELD_NAMES = new Set(['password', 'tokenkey', 'email', 'emailvisibility', 'verified']);

class Problems {
  readonly errors: FieldErrors = {};
  add(path: string, code: string, message: string): void {
    if (!this.errors[path]) this.errors[path] = { code, message };
  }
  throwIfAny(): void {
    if (Object.keys(this.errors).length) throw new BasaltError('collection_invalid', { data: this.errors });
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optNumber(p: Problems, path: string, v: unknown, opts: { int?: boolean; min?: number } = {}): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || (opts.int && !Number.isInteger(v)) || (opts.min !== undefined && v < opts.min)) {
    p.add(path, 'validation_invalid_number', `Must be ${opts.int ? 'an integer' : 'a number'}${opts.min !== undefined ? ` ≥ ${opts.min}` : ''}.`);
    return undefined;
  }
  return v;
}

function optBool(p: Problems, path: string, v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') {
    p.add(path, 'validation_invalid_bool', 'Must be true or false.');
    return undefined;
  }
  return v;
}

function optStringList(p: Problems, path: string, v: unknown, max = MAX_SELECT_VALUES): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length > max || v.some((x) => typeof x !== 'string' || x.length > 255)) {
    p.add(path, 'validation_invalid_list', `Must be a list of at most ${max} strings.`);
    return undefined;
  }
  return [...new Set(v as string[])];
}

/** Known option keys per type, so an unknown option is reported instead of silently ignored. */
const COMMON_KEYS = ['id', 'name', 'type', 'required', 'hidden', 'system', 'presentable', 'unique', 'readonly'];
const TYPE_KEYS: Record<FieldType, string[]> = {
  text: ['min', 'max', 'pattern', 'primaryKey', 'autogeneratePattern'],
  number: ['min', 'max', 'onlyInt'],
  bool: [],
  email: ['exceptDomains', 'onlyDomains'],
  url: ['exceptDomains', 'onlyDomains'],
  date: ['min', 'max'],
  select: ['values', 'maxSelect'],
  json: ['maxSize'],
  relation: ['collectionId', 'maxSelect', 'minSelect', 'cascadeDelete'],
  autodate: ['onCreate', 'onUpdate'],
  password: ['min', 'max', 'cost'],
  secret: ['max'],
};

function normalizeField(p: Problems, at: string, raw: unknown): Field | undefined {
  if (!isPlainObject(raw)) {
    p.add(at, 'validation_invalid_field', 'Each field must be an object.');
    return undefined;
  }
  const name = raw.name;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    p.add(`${at}.name`, 'validation_invalid_name', 'Field names must match ^[a-zA-Z_][a-zA-Z0-9_]{0,62}$.');
    return undefined;
  }
  if (RESERVED_FIELD_NAMES.has(name.toLowerCase())) {
    p.add(`${at}.name`, 'validation_reserved_name', `"${name}" is reserved.`);
    return undefined;
  }
  const type = raw.type as FieldType;
  if (!FIELD_TYPES.includes(type)) {
    p.add(`${at}.type`, 'validation_invalid_type', `Unknown field type; use one of ${FIELD_TYPES.join(', ')}.`);
    return undefined;
  }
  for (const key of Object.keys(raw)) {
    if (!COMMON_KEYS.includes(key) && !TYPE_KEYS[type].includes(key)) p.add(`${at}.${key}`, 'validation_unknown_option', `Unknown option "${key}" for a ${type} field.`);
  }
  const id = raw.id === undefined || raw.id === '' ? `${type}${newId(10)}` : raw.id;
  if (typeof id !== 'string' || !/^[a-zA-Z0-9_]{1,64}$/.test(id)) p.add(`${at}.id`, 'validation_invalid_id', 'Invalid field id.');
  const base = {
    id: String(id),
    name,
    required: optBool(p, `${at}.required`, raw.required) ?? false,
    hidden: optBool(p, `${at}.hidden`, raw.hidden) ?? false,
    presentable: optBool(p, `${at}.presentable`, raw.presentable) ?? false,
    system: false,
    ...(optBool(p, `${at}.unique`, raw.unique) ? { unique: true } : {}),
    ...(optBool(p, `${at}.readonly`, raw.readonly) ? { readonly: true } : {}),
  };
  switch (type) {
    case 'text': {
      const pattern = raw.pattern ?? '';
      if (typeof pattern !== 'string' || pattern.length > 500) p.add(`${at}.pattern`, 'validation_invalid_pattern', 'Invalid pattern.');
      else if (pattern) {
        try {
          new RegExp(pattern, 'u');
        } catch {
          p.add(`${at}.pattern`, 'validation_invalid_pattern', 'Invalid regular expression.');
        }
      }
      const min = optNumber(p, `${at}.min`, raw.min, { int: true, min: 0 }) ?? 0;
      const max = optNumber(p, `${at}.max`, raw.max, { int: true, min: 0 }) ?? 0;
      if (max && min > max) p.add(`${at}.max`, 'validation_min_greater_than_max', 'max must be ≥ min.');
      return { ...base, type, min, max, pattern: typeof pattern === 'string' ? pattern : '' };
    }
    case 'number': {
      const min = optNumber(p, `${at}.min`, raw.min) ?? null;
      const max = optNumber(p, `${at}.max`, raw.max) ?? null;
      if (min !== null && max !== null && min > max) p.add(`${at}.max`, 'validation_min_greater_than_max', 'max must be ≥ min.');
      return { ...base, type, min, max, onlyInt: optBool(p, `${at}.onlyInt`, raw.onlyInt) ?? false };
    }
    case 'bool':
      return { ...base, type };
    case 'email':
    case 'url':
      return {
        ...base,
        type,
        exceptDomains: optStringList(p, `${at}.exceptDomains`, raw.exceptDomains) ?? [],
        onlyDomains: optStringList(p, `${at}.onlyDomains`, raw.onlyDomains) ?? [],
      };
    case 'date': {
      const bound = (k: 'min' | 'max'): string => {
        const v = raw[k];
        if (v === undefined || v === null || v === '') return '';
        const n = typeof v === 'string' ? normalizeTimestamp(v) : null;
        if (n === null) p.add(`${at}.${k}`, 'validation_invalid_date', 'Must be a date.');
        return n ?? '';
      };
      return { ...base, type, min: bound('min'), max: bound('max') };
    }
    case 'select': {
      const values = optStringList(p, `${at}.values`, raw.values) ?? [];
      if (values.length === 0) p.add(`${at}.values`, 'validation_required', 'A select field needs at least one value.');
      const maxSelect = optNumber(p, `${at}.maxSelect`, raw.maxSelect, { int: true, min: 0 }) || 1;
      return { ...base, type, values, maxSelect };
    }
    case 'json':
      return { ...base, type, maxSize: optNumber(p, `${at}.maxSize`, raw.maxSize, { int: true, min: 0 }) ?? 0 };
    case 'relation': {
      if (typeof raw.collectionId !== 'string' || raw.collectionId === '') p.add(`${at}.collectionId`, 'validation_required', 'A relation needs collectionId (the id or name of the target collection).');
      return {
        ...base,
        type,
        collectionId: String(raw.collectionId ?? ''),
        maxSelect: optNumber(p, `${at}.maxSelect`, raw.maxSelect, { int: true, min: 0 }) || 1,
        minSelect: optNumber(p, `${at}.minSelect`, raw.minSelect, { int: true, min: 0 }) ?? 0,
        cascadeDelete: optBool(p, `${at}.cascadeDelete`, raw.cascadeDelete) ?? false,
      };
    }
    case 'autodate': {
      const onCreate = optBool(p, `${at}.onCreate`, raw.onCreate) ?? true;
      const onUpdate = optBool(p, `${at}.onUpdate`, raw.onUpdate) ?? false;
      if (!onCreate && !onUpdate) p.add(`${at}.onCreate`, 'validation_required', 'An autodate field needs onCreate or onUpdate.');
      return { ...base, type, onCreate, onUpdate, required: false };
    }
    case 'password':
      return {
        ...base,
        type,
        hidden: true,
        min: optNumber(p, `${at}.min`, raw.min, { int: true, min: 0 }) ?? 8,
        max: optNumber(p, `${at}.max`, raw.max, { int: true, min: 0 }) ?? 256,
      };
    case 'secret': {
      // Stored values are ciphertexts, each under its own key: equal plaintexts never compare equal.
      if (base.unique) p.add(`${at}.unique`, 'validation_secret_unique', 'A secret field cannot be unique (its stored values are encrypted).');
      const { unique: _u, ...rest } = base;
      return { ...rest, type, max: optNumber(p, `${at}.max`, raw.max, { int: true, min: 0 }) || DEFAULT_SECRET_MAX };
    }
  }
}

function normalizeRule(p: Problems, key: string, v: unknown): Rule {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string' || v.length > MAX_RULE_LENGTH) {
    p.add(key, 'validation_invalid_rule', `Must be null or a string of at most ${MAX_RULE_LENGTH} characters.`);
    return null;
  }
  return v.trim();
}

/** Parse PocketBase's `CREATE [UNIQUE] INDEX name ON table (a, b DESC)` into the portable form. */
function parseIndexSql(sql: string): IndexDef | undefined {
  const m = /^\s*CREATE\s+(UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?[`"']?([a-zA-Z_][a-zA-Z0-9_]*)[`"']?\s+ON\s+[`"']?[a-zA-Z_][a-zA-Z0-9_]*[`"']?\s*\(([^)]*)\)\s*;?\s*$/i.exec(sql);
  if (!m) return undefined;
  const columns: string[] = [];
  for (const part of m[3].split(',')) {
    const c = /^\s*[`"']?([a-zA-Z_][a-zA-Z0-9_]*)[`"']?(?:\s+(ASC|DESC))?\s*$/i.exec(part);
    if (!c) return undefined;
    columns.push(c[2]?.toUpperCase() === 'DESC' ? `-${c[1]}` : c[1]);
  }
  return { name: m[2], columns, unique: Boolean(m[1]) };
}

function normalizeIndexes(p: Problems, raw: unknown, fields: Field[]): IndexDef[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.length > 64) {
    p.add('indexes', 'validation_invalid_indexes', 'indexes must be a list of at most 64 entries.');
    return [];
  }
  const names = new Set<string>();
  const fieldNames = new Map(fields.map((f) => [f.name.toLowerCase(), f.name]));
  const secretNames = new Set(fields.filter((f) => f.type === 'secret').map((f) => f.name));
  const out: IndexDef[] = [];
  raw.forEach((entry, i) => {
    const at = `indexes.${i}`;
    const def = typeof entry === 'string' ? parseIndexSql(entry) : isPlainObject(entry) ? (entry as unknown as IndexDef) : undefined;
    if (!def || typeof def.name !== 'string' || !NAME_PATTERN.test(def.name) || !Array.isArray(def.columns) || def.columns.length === 0 || def.columns.length > 16) {
      p.add(at, 'validation_invalid_index', 'An index is {name, columns: ["field", "-field"], unique?} or "CREATE [UNIQUE] INDEX name ON table (field [DESC], …)".');
      return;
    }
    if (names.has(def.name.toLowerCase())) p.add(at, 'validation_duplicate_index', `Duplicate index name "${def.name}".`);
    names.add(def.name.toLowerCase());
    const columns: string[] = [];
    for (const col of def.columns) {
      const desc = typeof col === 'string' && col.startsWith('-');
      const name = typeof col === 'string' ? col.replace(/^[-+]/, '') : '';
      const real = fieldNames.get(name.toLowerCase());
      if (!real) {
        p.add(at, 'validation_unknown_field', `Index column "${name}" is not a field.`);
        return;
      }
      if (secretNames.has(real)) {
        p.add(at, 'validation_secret_index', `Index column "${real}" is a secret field; encrypted values cannot be indexed.`);
        return;
      }
      columns.push(desc ? `-${real}` : real);
    }
    out.push({ name: def.name, columns, unique: def.unique === true });
  });
  return out;
}

const COLLECTION_KEYS = new Set(['id', 'name', 'type', 'system', 'fields', 'indexes', 'created', 'updated', ...RULE_KEYS,
  'authRule', 'manageRule', ...AUTH_OPTION_KEYS,
  // PocketBase members we accept and ignore.
  'authAlias', 'authTemplate', 'viewQuery']);

/**
 * Validate and normalise a collection body. With `existing`, the body is a PATCH over it: members
 * absent from the body keep their value, and fields are matched to existing ones by id (a changed
 * name is a rename), then by name.
 */
export function normalizeCollection(body: unknown, existing?: Collection): Collection {
  const p = new Problems();
  if (!isPlainObject(body)) throw new BasaltError('collection_invalid', { message: 'The collection body must be a JSON object.' });
  for (const key of Object.keys(body)) {
    if (!COLLECTION_KEYS.has(key)) p.add(key, 'validation_unknown_member', `Unknown collection member "${key}".`);
  }
  const name = body.name ?? existing?.name;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) p.add('name', 'validation_invalid_name', 'Collection names must match ^[a-zA-Z_][a-zA-Z0-9_]{0,62}$.');
  else if (name.startsWith('_') && !existing?.system) p.add('name', 'validation_reserved_name', 'Names starting with "_" are reserved for system collections.');
  if (existing?.system && body.name !== undefined && body.name !== existing.name) p.add('name', 'validation_system_collection', 'System collections cannot be renamed.');
  const type = body.type ?? existing?.type ?? 'base';
  if (existing && type !== existing.type) p.add('type', 'validation_type_change', 'The type of an existing collection cannot change.');
  if (type !== 'base' && type !== 'auth') p.add('type', 'validation_invalid_type', 'The type must be "base" or "auth".');
  const isAuth = type === 'auth';

  const rawFields = body.fields ?? existing?.fields ?? [];
  if (!Array.isArray(rawFields) || rawFields.length > MAX_FIELDS) {
    p.add('fields', 'validation_invalid_fields', `fields must be a list of at most ${MAX_FIELDS} fields.`);
    p.throwIfAny();
  }
  const fields: Field[] = [];
  const seen = new Set<string>();
  const seenIds = new Set<string>();
  const existingById = new Map((existing?.fields ?? []).map((f) => [f.id, f]));
  const existingByName = new Map((existing?.fields ?? []).map((f) => [f.name.toLowerCase(), f]));
  let newPasswordMin = 8;
  (rawFields as unknown[]).forEach((raw, i) => {
    const at = `fields.${i}`;
    // System fields (id, auth fields) keep their definition; only their visibility-neutral options come from the body.
    if (isPlainObject(raw)) {
      const prior = (typeof raw.id === 'string' && existingById.get(raw.id)) || (typeof raw.name === 'string' && existingByName.get(raw.name.toLowerCase()));
      if (prior && prior.system) {
        if (raw.name !== undefined && raw.name !== prior.name) p.add(`${at}.name`, 'validation_system_field', 'System fields cannot be renamed.');
        fields.push(prior.type === 'password' ? { ...prior, min: passwordMin(p, `${at}.min`, raw.min, prior.min) } : prior);
        seen.add(prior.name.toLowerCase());
        seenIds.add(prior.id);
        return;
      }
      if (!existing && raw.name === 'id') return; // the id field is always added below
      // An auth collection's system fields are Basalt's; a body naming them (as PocketBase exports do) gets them.
      // `roles` on a new auth collection is Basalt's role assignment; a body may restate it (an export),
      // but a field of another shape under that name would silently change meaning: refused.
      if (!existing && isAuth && typeof raw.name === 'string' && raw.name.toLowerCase() === 'roles') {
        if (raw.type === 'relation' && (raw.collectionId === '_roles' || raw.collectionId === ROLES_COLLECTION_ID)) return;
        p.add(`${at}.name`, 'validation_reserved_name', '"roles" is the role-assignment field of auth collections (a relation to _roles); rename this field.');
        return;
      }
      if (!existing && isAuth && typeof raw.name === 'string' && AUTH_FIELD_NAMES.has(raw.name.toLowerCase())) {
        if (raw.name.toLowerCase() === 'password') newPasswordMin = passwordMin(p, `${at}.min`, raw.min, 8);
        return;
      }
      // Keep the id of a field matched by name, so PATCHing with names only is not a drop-and-add.
      if (prior && raw.id === undefined) raw = { ...raw, id: prior.id };
    }
    const f = normalizeField(p, at, raw);
    if (!f) return;
    if (seen.has(f.name.toLowerCase())) p.add(`${at}.name`, 'validation_duplicate_name', `Duplicate field name "${f.name}".`);
    if (seenIds.has(f.id)) p.add(`${at}.id`, 'validation_duplicate_id', `Duplicate field id "${f.id}".`);
    const prior = existingById.get(f.id);
    if (prior && prior.type !== f.type) p.add(`${at}.type`, 'validation_type_change', 'A field\'s type cannot change; add a new field instead.');
    seen.add(f.name.toLowerCase());
    seenIds.add(f.id);
    fields.push(f);
  });
  // Every collection has the system id field, first (then, for auth collections, the auth fields);
  // a body cannot drop system fields.
  const system = existing ? existing.fields.filter((f) => f.system)
    : isAuth ? [idField(), ...authFields().map((f) => (f.type === 'password' ? { ...f, min: newPasswordMin } : f)), rolesField()] : [idField()];
  const missing = system.filter((sys) => !seenIds.has(sys.id));
  fields.unshift(...missing);
  fields.sort((a, b) => Number(b.name === 'id') - Number(a.name === 'id'));

  const rules = {} as Record<RuleKey, Rule>;
  for (const key of RULE_KEYS) rules[key] = key in body ? normalizeRule(p, key, body[key]) : (existing?.[key] ?? null);
  const authRules = isAuth
    ? {
        authRule: 'authRule' in body ? normalizeRule(p, 'authRule', body.authRule) : (existing?.authRule ?? ''),
        manageRule: 'manageRule' in body ? normalizeRule(p, 'manageRule', body.manageRule) : (existing?.manageRule ?? null),
      }
    : {};
  const indexes = normalizeIndexes(p, 'indexes' in body ? body.indexes : existing?.indexes, fields);
  p.throwIfAny();
  const options = isAuth ? normalizeAuthOptions(body, existing && authOptions(existing), new Set(fields.map((f) => f.name)), identityCandidates(fields, indexes)) : {};

  const now = formatTimestamp();
  const id = existing?.id ?? (typeof body.id === 'string' && /^[a-z0-9_]{1,64}$/.test(body.id) ? body.id : `pbc_${newId(10)}`);
  return {
    id,
    name: name as string,
    type: type as Collection['type'],
    system: existing?.system ?? false,
    fields,
    indexes,
    ...rules,
    ...authRules,
    ...options,
    created: existing?.created ?? now,
    updated: now,
  };
}

/**
 * Fields that may be `passwordAuth.identityFields`: the email, and text fields that are unique (the
 * field's own flag, or a unique index on it alone), so that an identity names one record at most.
 */
function identityCandidates(fields: readonly Field[], indexes: readonly IndexDef[]): Set<string> {
  const out = new Set<string>();
  for (const f of fields) {
    if (f.name === 'id') continue;
    const unique = f.unique === true || indexes.some((i) => i.unique && i.columns.length === 1 && i.columns[0] === f.name);
    if ((f.type === 'email' && f.name === 'email') || (f.type === 'text' && unique)) out.add(f.name);
  }
  return out;
}
