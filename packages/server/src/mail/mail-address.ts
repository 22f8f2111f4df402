/**
 * The one email address syntax Basalt sends to: an RFC 5321 "dot-atom" local part and a DNS host
 * name, ASCII only. Deliberately stricter than RFC 5322: no quoted local parts, comments, display
 * names, group syntax, address lists or IP literals, so no address a client gives can be read by a
 * mail library as more than one recipient (`,` `;` `:`), as a display name (`<` `>` `"`), or as a
 * header line.
 */

/** RFC 5322 `atext`: the characters of one dot-separated atom of a local part. */
const ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/;
/** One DNS label: letters, digits, inner hyphens, 1–63 characters. */
const LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * True when `v` is an address Basalt will send to: at most 254 characters, a local part of at most 64
 * dot-separated atoms, `@`, and a host name of at least two labels whose last one is not all digits.
 *
 * @example
 * isMailAddress('ann.lee+news@example.com'); // true
 * isMailAddress('a@example.com, b@example.com'); // false — a list
 * isMailAddress('"Ann" <ann@example.com>'); // false — a display name
 */
export function isMailAddress(v: unknown): v is string {
  if (typeof v !== 'string' || v.length < 3 || v.length > 254) return false;
  const at = v.lastIndexOf('@');
  if (at < 1) return false;
  const local = v.slice(0, at);
  const domain = v.slice(at + 1);
  if (local.length > 64 || !local.split('.').every((atom) => ATOM.test(atom))) return false;
  const labels = domain.split('.');
  if (labels.length < 2 || domain.length > 253 || !labels.every((l) => LABEL.test(l))) return false;
  // `1.2.3.4` is an IP literal written without brackets, not a host name.
  return !/^[0-9]+$/.test(labels[labels.length - 1]);
}
