/**
 * Recursive-descent parser: `expr := and ('||' and)*`, `and := primary ('&&' primary)*`,
 * `primary := '(' expr ')' | operand op operand`. Depth, length and size are bounded, so hostile
 * input gives `filter_invalid`, never a stack overflow.
 */
import {
  MACRO_NAMES, RULE_LIMITS, type Expr, type MacroName, type Modifier, type Operand, type RequestSource,
} from './rules-ast.ts';
import { invalid } from './rules-errors.ts';
import { tokenize, type Token } from './rules-lexer.ts';

const SEGMENT = /^(?:[A-Za-z_][A-Za-z0-9_]*|\d+)$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const MODIFIERS = new Set<Modifier>(['isset', 'length', 'each', 'lower']);
const MACROS = new Set<string>(MACRO_NAMES);
const REQUEST_SOURCES = new Set(['auth', 'body', 'data', 'query', 'headers', 'method', 'context']);

function checkSegment(seg: string, ident: string, pos: number, nameOnly = false): void {
  if (!(nameOnly ? NAME : SEGMENT).test(seg) || FORBIDDEN.has(seg)) {
    throw invalid(`invalid identifier ${JSON.stringify(ident)} at position ${pos}`);
  }
}

/** Turn one identifier token into an operand (keywords, macros, fields, `@request.*`, `@collection.*`). */
function parseIdentifier(text: string, pos: number): Operand {
  const lower = text.toLowerCase();
  if (lower === 'true' || lower === 'false') return { type: 'bool', value: lower === 'true' };
  if (lower === 'null') return { type: 'null' };
  if (MACROS.has(text)) return { type: 'macro', name: text as MacroName };

  let modifier: Modifier | undefined;
  const segments = text.split('.');
  if (segments.length > RULE_LIMITS.maxPathSegments) throw invalid(`path too long at position ${pos}`);
  const last = segments[segments.length - 1];
  const colon = last.indexOf(':');
  if (colon >= 0) {
    const m = last.slice(colon + 1);
    if (!MODIFIERS.has(m as Modifier)) throw invalid(`unknown modifier ${JSON.stringify(m)} at position ${pos}`);
    modifier = m as Modifier;
    segments[segments.length - 1] = last.slice(0, colon);
  }
  const head = segments[0];
  if (head === '@request') {
    const src = segments[1];
    if (!src || !REQUEST_SOURCES.has(src)) throw invalid(`unknown identifier ${JSON.stringify(text)} at position ${pos}`);
    const source = (src === 'data' ? 'body' : src) as RequestSource;
    const path = segments.slice(2);
    if (source === 'method' || source === 'context') {
      if (path.length) throw invalid(`unknown identifier ${JSON.stringify(text)} at position ${pos}`);
    } else if (path.length === 0 || ((source === 'query' || source === 'headers') && path.length !== 1)) {
      throw invalid(`invalid identifier ${JSON.stringify(text)} at position ${pos}`);
    }
    for (const s of path) checkSegment(s, text, pos);
    const op: Operand = { type: 'request', source, path };
    return modifier ? { ...op, modifier } : op;
  }
  if (modifier === 'isset') throw invalid(`:isset is only valid on @request fields (position ${pos})`);
  if (head === '@collection') {
    if (segments.length < 3) throw invalid(`invalid @collection reference at position ${pos}`);
    const [collection, alias, extra] = segments[1].split(':');
    if (extra !== undefined) throw invalid(`invalid @collection reference at position ${pos}`);
    checkSegment(collection, text, pos, true);
    if (alias !== undefined) checkSegment(alias, text, pos, true);
    const path = segments.slice(2);
    for (const s of path) checkSegment(s, text, pos);
    if (!NAME.test(path[0])) throw invalid(`invalid identifier ${JSON.stringify(text)} at position ${pos}`);
    const op: Operand = alias !== undefined ? { type: 'collection', collection, alias, path } : { type: 'collection', collection, path };
    return modifier ? { ...op, modifier } : op;
  }
  if (head.startsWith('@')) throw invalid(`unknown identifier ${JSON.stringify(text)} at position ${pos}`);
  for (const s of segments) checkSegment(s, text, pos);
  if (!NAME.test(head)) throw invalid(`invalid identifier ${JSON.stringify(text)} at position ${pos}`);
  const op: Operand = { type: 'field', path: segments };
  return modifier ? { ...op, modifier } : op;
}

class Parser {
  readonly tokens: Token[];
  i = 0;
  depth = 0;
  comparisons = 0;
  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }
  peek(): Token {
    return this.tokens[this.i];
  }
  next(): Token {
    return this.tokens[this.i++];
  }
  parseOr(): Expr {
    let left = this.parseAnd();
    while (this.peek().kind === 'or') {
      this.next();
      left = { type: 'or', left, right: this.parseAnd() };
    }
    return left;
  }
  parseAnd(): Expr {
    let left = this.parsePrimary();
    while (this.peek().kind === 'and') {
      this.next();
      left = { type: 'and', left, right: this.parsePrimary() };
    }
    return left;
  }
  parsePrimary(): Expr {
    const t = this.peek();
    if (t.kind === 'lparen') {
      this.next();
      if (++this.depth > RULE_LIMITS.maxDepth) throw invalid(`expression nested too deeply (max ${RULE_LIMITS.maxDepth})`);
      const inner = this.parseOr();
      const close = this.next();
      if (close.kind !== 'rparen') throw invalid(`expected ")" at position ${close.pos}`);
      this.depth--;
      return inner;
    }
    const left = this.parseOperand();
    const op = this.next();
    if (op.kind !== 'op') throw invalid(`expected an operator at position ${op.pos}`);
    const right = this.parseOperand();
    if (++this.comparisons > RULE_LIMITS.maxComparisons) throw invalid(`too many comparisons (max ${RULE_LIMITS.maxComparisons})`);
    return { type: 'compare', op: op.op, any: op.any, left, right };
  }
  parseOperand(): Operand {
    const t = this.next();
    switch (t.kind) {
      case 'string': return { type: 'string', value: t.value };
      case 'number': return { type: 'number', value: t.value };
      case 'ident': return parseIdentifier(t.text, t.pos);
      case 'eof': throw invalid('unexpected end of expression');
      default: throw invalid(`expected a field or value at position ${t.pos}`);
    }
  }
}

/**
 * Parse a filter or rule expression (PocketBase syntax) into an AST. Throws `BasaltError('filter_invalid')`
 * for syntax errors, empty input, NUL characters, unknown `@` identifiers and expressions over the limits in
 * {@link RULE_LIMITS}. Field names are checked later, by the compilers, against the schema.
 *
 * @example
 * const ast = parseExpression('status = "published" && author = @request.auth.id');
 */
export function parseExpression(source: string): Expr {
  if (typeof source !== 'string') throw invalid('expression must be a string');
  if (source.length > RULE_LIMITS.maxLength) throw invalid(`expression too long (max ${RULE_LIMITS.maxLength} characters)`);
  // A NUL can only arrive in a string literal, which would reach PostgreSQL as a text parameter (an error there).
  if (source.includes('\u0000')) throw invalid('the expression contains a NUL character');
  const tokens = tokenize(source);
  if (tokens.length === 1) throw invalid('empty expression');
  const p = new Parser(tokens);
  const expr = p.parseOr();
  const end = p.peek();
  if (end.kind !== 'eof') throw invalid(`unexpected ${end.kind === 'rparen' ? '")"' : 'token'} at position ${end.pos}`);
  return expr;
}
