/**
 * Tokenizer for the filter language: operators, `&&`, `||`, parentheses, quoted strings (single or
 * double quotes; `\\`, `\"`, `\'` are escapes, any other backslash is kept so LIKE escapes such as
 * `\%` survive), numbers, identifiers (`a.b`, `@request.auth.id`, `tags:length`) and `//` comments.
 */
import type { CompareOp } from './rules-ast.ts';
import { invalid } from './rules-errors.ts';

/** One token with its source offset (for error messages). */
export type Token =
  | { kind: 'op'; op: CompareOp; any: boolean; pos: number }
  | { kind: 'and' | 'or' | 'lparen' | 'rparen' | 'eof'; pos: number }
  | { kind: 'string'; value: string; pos: number }
  | { kind: 'number'; value: number; pos: number }
  | { kind: 'ident'; text: string; pos: number };

const OPS: readonly CompareOp[] = ['!=', '>=', '<=', '!~', '=', '>', '<', '~'];
const NUMBER = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/;
const IDENT_START = /[A-Za-z_@]/;
const IDENT_CHAR = /[A-Za-z0-9_@.:]/;

/** Split `source` into tokens, ending with an `eof` token. Throws `filter_invalid`. */
export function tokenize(source: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    if (c === '/' && source[i + 1] === '/') {
      while (i < n && source[i] !== '\n') i++;
      continue;
    }
    const pos = i;
    if (c === '(') { out.push({ kind: 'lparen', pos }); i++; continue; }
    if (c === ')') { out.push({ kind: 'rparen', pos }); i++; continue; }
    if (c === '&' && source[i + 1] === '&') { out.push({ kind: 'and', pos }); i += 2; continue; }
    if (c === '|' && source[i + 1] === '|') { out.push({ kind: 'or', pos }); i += 2; continue; }
    if (c === '"' || c === "'") {
      let value = '';
      i++;
      for (;;) {
        if (i >= n) throw invalid(`unterminated string starting at position ${pos}`);
        const d = source[i];
        if (d === c) { i++; break; }
        if (d === '\\' && i + 1 < n) {
          const e = source[i + 1];
          if (e === '\\' || e === '"' || e === "'") { value += e; i += 2; continue; }
        }
        value += d;
        i++;
      }
      out.push({ kind: 'string', value, pos });
      continue;
    }
    const any = c === '?';
    const opStart = any ? i + 1 : i;
    const op = OPS.find((o) => source.startsWith(o, opStart));
    if (op) {
      // `==`, `=~`, `<>` and friends are not operators; reject rather than guess.
      const next = source[opStart + op.length];
      if (next === '=' || next === '~' || (op === '<' && next === '>')) throw invalid(`unknown operator at position ${pos}`);
      out.push({ kind: 'op', op, any, pos });
      i = opStart + op.length;
      continue;
    }
    if (any) throw invalid(`unknown operator at position ${pos}`);
    if (c === '-' || (c >= '0' && c <= '9')) {
      const m = NUMBER.exec(source.slice(i, i + 64));
      if (!m) throw invalid(`invalid number at position ${pos}`);
      const value = Number(m[0]);
      if (!Number.isFinite(value)) throw invalid(`number out of range at position ${pos}`);
      i += m[0].length;
      if (i < n && IDENT_CHAR.test(source[i])) throw invalid(`invalid number at position ${pos}`);
      out.push({ kind: 'number', value: value === 0 ? 0 : value, pos });
      continue;
    }
    if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < n && IDENT_CHAR.test(source[j])) j++;
      out.push({ kind: 'ident', text: source.slice(i, j), pos });
      i = j;
      continue;
    }
    throw invalid(`unexpected character ${JSON.stringify(c)} at position ${pos}`);
  }
  out.push({ kind: 'eof', pos: n });
  return out;
}
