/**
 * Password screening per NIST SP 800-63B §5.1.1.2: no composition rules, but refuse passwords that
 * are known to be common or breached, and ones made of the account's own identifier. The list is the
 * 49,000-entry common-password dictionary shipped by `@zxcvbn-ts/language-common` (from breach corpora),
 * loaded on first use.
 */
import { dictionary } from '@zxcvbn-ts/language-common';

let common: Set<string> | undefined;

function commonPasswords(): Set<string> {
  if (!common) {
    const list = (dictionary as Record<string, string[]>)['passwords-common'] ?? [];
    common = new Set(list.map((p) => p.toLowerCase()));
  }
  return common;
}

/** Why a password is refused, or undefined when it may be used. */
export function screenPassword(password: string, identifiers: readonly string[] = []): string | undefined {
  const lower = password.toLowerCase();
  if (commonPasswords().has(lower)) return 'This password is too common; choose another.';
  for (const id of identifiers) {
    const local = id.toLowerCase().split('@')[0];
    if (local.length >= 3 && (lower === local || lower === id.toLowerCase())) return 'The password must not be your email or name.';
  }
  return undefined;
}
