/**
 * The collection model: what a collection and its fields are, in PocketBase's (v0.23+) JSON shape,
 * plus Basalt's portable index declarations. Pure types and small helpers; no I/O.
 */
import { defaultAuthOptions, type AuthOptions } from './collection-auth-options.ts';

/** Field types Basalt supports. */
export type FieldType =
  | 'text' | 'number' | 'bool' | 'email' | 'url' | 'date' | 'select' | 'json' | 'relation' | 'autodate' | 'password' | 'secret';

/** Options every field has. */
export interface FieldBase {
  /** Stable id; survives renames (a rename is "same id, new name"). */
  id: string;
  name: string;
  type: FieldType;
  /** A value must be present (non-zero). */
  required?: boolean;
  /** Never returned to non-superusers, not filterable or sortable by them. */
  hidden?: boolean;
  /** System fields (id, auth fields) cannot be removed or renamed. */
  system?: boolean;
  presentable?: boolean;
  /** Basalt extension: a unique index on this field alone. */
  unique?: boolean;
  /**
   * Basalt extension: only superusers set or change it (others get 400 `validation_forbidden_field`);
   * everyone who can see the record reads it.
   */
  readonly?: boolean;
}

export interface TextField extends FieldBase {
  type: 'text';
  /** Minimum / maximum length in characters (0 = no limit). */
  min?: number;
  max?: number;
  /** A regular expression the value must match (when non-empty). */
  pattern?: string;
  /** Marks the `id` field. */
  primaryKey?: boolean;
  /** Pattern for generated values (only the id field uses it: `[a-z0-9]{15}`). */
  autogeneratePattern?: string;
}
export interface NumberField extends FieldBase { type: 'number'; min?: number | null; max?: number | null; onlyInt?: boolean }
export interface BoolField extends FieldBase { type: 'bool' }
export interface EmailField extends FieldBase { type: 'email'; exceptDomains?: string[]; onlyDomains?: string[] }
export interface UrlField extends FieldBase { type: 'url'; exceptDomains?: string[]; onlyDomains?: string[] }
/** Dates are stored and returned as `2024-01-02 03:04:05.678Z`. `min`/`max` in the same form (or empty). */
export interface DateField extends FieldBase { type: 'date'; min?: string; max?: string }
/** `maxSelect` > 1 makes a multi-select, stored as a JSON array. */
export interface SelectField extends FieldBase { type: 'select'; values: string[]; maxSelect?: number }
/** Any JSON value; `maxSize` in bytes of its JSON text (0 = default limit). */
export interface JsonField extends FieldBase { type: 'json'; maxSize?: number }
/** A reference to records of `collectionId`; `maxSelect` > 1 makes it multi (a JSON array of ids). */
export interface RelationField extends FieldBase {
  type: 'relation';
  collectionId: string;
  maxSelect?: number;
  minSelect?: number;
  /** Delete this record when the referenced record is deleted (otherwise the reference is removed, or the delete refused when required). */
  cascadeDelete?: boolean;
}
/** Set automatically on create and/or update. */
export interface AutodateField extends FieldBase { type: 'autodate'; onCreate?: boolean; onUpdate?: boolean }
/** A password hash (auth collections). Write-only; never returned. */
export interface PasswordField extends FieldBase { type: 'password'; min?: number; max?: number }

/**
 * Text encrypted at rest (AES-256-GCM envelope encryption, see docs/encryption.md): stored sealed,
 * returned decrypted to whoever may view the record. Cannot be filtered, sorted, indexed or unique.
 */
export interface SecretField extends FieldBase { type: 'secret'; /** Maximum length in characters of the plaintext (default 4096). */ max?: number }

/** Default (and `0`) maximum length of a secret field's value, in characters. */
export const DEFAULT_SECRET_MAX = 4096;

/** Any field. */
export type Field =
  | TextField | NumberField | BoolField | EmailField | UrlField | DateField | SelectField | JsonField | RelationField
  | AutodateField | PasswordField | SecretField;

/** Portable index declaration; `-name` sorts a column descending. */
export interface IndexDef {
  name: string;
  columns: string[];
  unique?: boolean;
}

/** A rule: `null` = superusers only, `""` = everyone, otherwise a filter expression. */
export type Rule = string | null;

export type CollectionType = 'base' | 'auth';

/**
 * A collection as stored and as returned by the collections API. Auth collections also carry the
 * {@link AuthOptions} members (PocketBase's `passwordAuth`, `oauth2`, `mfa`, `otp`, …) at the top level.
 */
export interface Collection extends Partial<AuthOptions> {
  id: string;
  name: string;
  type: CollectionType;
  /** System collections (`_superusers`) cannot be deleted or renamed. */
  system: boolean;
  fields: Field[];
  indexes: IndexDef[];
  listRule: Rule;
  viewRule: Rule;
  createRule: Rule;
  updateRule: Rule;
  deleteRule: Rule;
  /** Auth collections: extra condition a record must meet to sign in (`""` = none, `null` = nobody). */
  authRule?: Rule;
  /** Auth collections: who may manage other records' auth fields (email, verified, password) besides superusers. */
  manageRule?: Rule;
  created: string;
  updated: string;
}

/** How a field is stored: its column kind, and whether it holds a JSON array. */
export interface StorageShape {
  kind: 'text' | 'number' | 'bool' | 'json';
  /** The value is a JSON array of scalars (multi select / multi relation). */
  multi: boolean;
}

/** True when a select or relation field holds several values. */
export function isMultiValued(field: Field): boolean {
  return (field.type === 'select' || field.type === 'relation') && (field.maxSelect ?? 1) > 1;
}

/** The storage shape of a field. */
export function storageShape(field: Field): StorageShape {
  switch (field.type) {
    case 'number': return { kind: 'number', multi: false };
    case 'bool': return { kind: 'bool', multi: false };
    case 'json': return { kind: 'json', multi: false };
    case 'select':
    case 'relation':
      return isMultiValued(field) ? { kind: 'json', multi: true } : { kind: 'text', multi: false };
    default:
      return { kind: 'text', multi: false };
  }
}

/** The zero value of a field: what an absent value reads as (PocketBase semantics). */
export function zeroValue(field: Field): unknown {
  switch (field.type) {
    case 'number': return 0;
    case 'bool': return false;
    case 'json': return null;
    case 'select':
    case 'relation':
      return isMultiValued(field) ? [] : '';
    default:
      return '';
  }
}

/** The auth options of an auth collection, complete (defaults for members it does not have). */
export function authOptions(c: Collection): AuthOptions {
  const d = defaultAuthOptions();
  const out = {} as Record<string, unknown>;
  for (const key of Object.keys(d) as (keyof AuthOptions)[]) out[key] = c[key] ?? d[key];
  return out as unknown as AuthOptions;
}
