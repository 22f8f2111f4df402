import { randomInt } from 'node:crypto';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Length of generated record ids (PocketBase's default). */
export const ID_LENGTH = 15;

/** A fresh random 15-character lowercase alphanumeric id, like PocketBase's. */
export function newId(length = ID_LENGTH): string {
  let id = '';
  for (let i = 0; i < length; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

/** Ids a client may supply: PocketBase's `^[a-z0-9]+$`, 15 characters unless a collection says otherwise. */
export const ID_PATTERN = /^[a-z0-9]{15}$/;

/**
 * Timestamp in PocketBase's storage and wire format: `2024-01-02 03:04:05.678Z` (UTC, sorts as text).
 */
export function formatTimestamp(d: Date = new Date()): string {
  return d.toISOString().replace('T', ' ');
}

/**
 * Parse a date a client sent (ISO 8601, or PocketBase's space-separated form) to the storage format.
 * Answers null when it is not a date.
 */
export function normalizeTimestamp(value: string): string | null {
  const s = value.trim();
  if (s === '') return '';
  if (!/^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(s)) return null;
  let iso = s.replace(' ', 'T');
  if (/^\d{4}-\d{2}-\d{2}$/.test(iso)) iso += 'T00:00:00Z';
  else if (!/(Z|[+-]\d{2}:?\d{2})$/.test(iso)) iso += 'Z';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  return formatTimestamp(d);
}

/** Identifier rule for collection and field names: safe in SQL after quoting, and portable. */
export const NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;

/** Keys that must never be used as object keys from user input (prototype pollution). */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export { hashPassword, verifyPassword, dummyPasswordHash, ARGON2_DEFAULTS } from './password-hash.ts';
export { screenPassword } from './password-policy.ts';
export { MAX_JSON_DEPTH, inspectJson, hasNul, type JsonProblem } from './json-limits.ts';
