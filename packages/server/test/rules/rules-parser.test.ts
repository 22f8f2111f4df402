import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseExpression, printExpression, RULE_LIMITS, type Expr } from '../../src/rules/index.ts';
import { isBasaltError } from '../../src/errors/index.ts';

const f = (...path: string[]) => ({ type: 'field' as const, path });
const s = (value: string) => ({ type: 'string' as const, value });
const n = (value: number) => ({ type: 'number' as const, value });
const cmp = (left: any, op: any, right: any, any = false): Expr => ({ type: 'compare', op, any, left, right });

const valid: [string, Expr][] = [
  ['title = "x"', cmp(f('title'), '=', s('x'))],
  ["title != 'it\\'s'", cmp(f('title'), '!=', s("it's"))],
  ['title ~ "50\\%"', cmp(f('title'), '~', s('50\\%'))],
  ['title = "a\\\\"', cmp(f('title'), '=', s('a\\'))],
  ['views >= -1.5', cmp(f('views'), '>=', n(-1.5))],
  ['views < 1e3', cmp(f('views'), '<', n(1000))],
  ['a<=b', cmp(f('a'), '<=', f('b'))],
  ['a !~ "x"', cmp(f('a'), '~', s('x'))].map((x, i) => (i === 1 ? cmp(f('a'), '!~', s('x')) : x)) as [string, Expr],
  ['tags ?= "a"', cmp(f('tags'), '=', s('a'), true)],
  ['tags ?!= "a"', cmp(f('tags'), '!=', s('a'), true)],
  ['tags ?> 1', cmp(f('tags'), '>', n(1), true)],
  ['tags ?>= 1', cmp(f('tags'), '>=', n(1), true)],
  ['tags ?< 1', cmp(f('tags'), '<', n(1), true)],
  ['tags ?<= 1', cmp(f('tags'), '<=', n(1), true)],
  ['tags ?~ "a"', cmp(f('tags'), '~', s('a'), true)],
  ['tags ?!~ "a"', cmp(f('tags'), '!~', s('a'), true)],
  ['published = true', cmp(f('published'), '=', { type: 'bool', value: true })],
  ['published = FALSE', cmp(f('published'), '=', { type: 'bool', value: false })],
  ['data = null', cmp(f('data'), '=', { type: 'null' })],
  ['author.team.name = "x"', cmp(f('author', 'team', 'name'), '=', s('x'))],
  ['data.items.0.x = 1', cmp(f('data', 'items', '0', 'x'), '=', n(1))],
  ['tags:length > 2', cmp({ type: 'field', path: ['tags'], modifier: 'length' }, '>', n(2))],
  ['tags:each ~ "a"', cmp({ type: 'field', path: ['tags'], modifier: 'each' }, '~', s('a'))],
  ['title:lower = "a"', cmp({ type: 'field', path: ['title'], modifier: 'lower' }, '=', s('a'))],
  ['@request.auth.id != ""', cmp({ type: 'request', source: 'auth', path: ['id'] }, '!=', s(''))],
  ['@request.data.role:isset = false', cmp({ type: 'request', source: 'body', path: ['role'], modifier: 'isset' }, '=', { type: 'bool', value: false })],
  ['@request.query.page = "1"', cmp({ type: 'request', source: 'query', path: ['page'] }, '=', s('1'))],
  ['@request.headers.x_token = "t"', cmp({ type: 'request', source: 'headers', path: ['x_token'] }, '=', s('t'))],
  ['@request.method = "GET"', cmp({ type: 'request', source: 'method', path: [] }, '=', s('GET'))],
  ['@request.context != "oauth2"', cmp({ type: 'request', source: 'context', path: [] }, '!=', s('oauth2'))],
  ['created > @now', cmp(f('created'), '>', { type: 'macro', name: '@now' })],
  ['@collection.news:n.author ?= id', cmp({ type: 'collection', collection: 'news', alias: 'n', path: ['author'] }, '=', f('id'), true)],
  ['@collection.news.author = id', cmp({ type: 'collection', collection: 'news', path: ['author'] }, '=', f('id'))],
  ['a = 1 // comment\n && b = 2', { type: 'and', left: cmp(f('a'), '=', n(1)), right: cmp(f('b'), '=', n(2)) }],
  ['a = 1 || b = 2 && c = 3', { type: 'or', left: cmp(f('a'), '=', n(1)), right: { type: 'and', left: cmp(f('b'), '=', n(2)), right: cmp(f('c'), '=', n(3)) } }],
  ['(a = 1 || b = 2) && c = 3', { type: 'and', left: { type: 'or', left: cmp(f('a'), '=', n(1)), right: cmp(f('b'), '=', n(2)) }, right: cmp(f('c'), '=', n(3)) }],
  ['a = "// not a comment"', cmp(f('a'), '=', s('// not a comment'))],
];

for (const [src, ast] of valid) {
  test(`parses ${JSON.stringify(src)}`, () => {
    const got = parseExpression(src);
    assert.deepStrictEqual(got, ast);
    assert.deepStrictEqual(parseExpression(printExpression(got)), got, 'parse(print(ast)) = ast');
  });
}

const invalidCases: [string, string][] = [
  ['', 'empty'],
  ['   // only a comment', 'comment only'],
  ['title = "abc', 'unterminated double-quoted string'],
  ["title = 'abc", 'unterminated single-quoted string'],
  ['title = "abc\\"', 'escaped closing quote'],
  ['title == "x"', 'double equals'],
  ['title <> "x"', 'sql not-equal'],
  ['title =~ "x"', 'bad operator'],
  ['title ?? "x"', 'bad any operator'],
  ['title = ', 'missing right operand'],
  ['= "x"', 'missing left operand'],
  ['title "x"', 'missing operator'],
  ['title = "x" &&', 'dangling &&'],
  ['title = "x" & b = 1', 'single &'],
  ['(title = "x"', 'unclosed paren'],
  ['title = "x")', 'extra paren'],
  ['title = "x"; DROP TABLE posts --', 'sql fragment'],
  ["title = 'x' OR 1=1", 'sql OR'],
  ['title = "x" -- comment', 'sql comment'],
  ['a.__proto__ = 1', '__proto__ path'],
  ['@request.body.__proto__ = 1', '__proto__ in request'],
  ['@request.auth.constructor = 1', 'constructor'],
  ['data.prototype.x = 1', 'prototype'],
  ['@request.foo = 1', 'unknown @request part'],
  ['@request.query.a.b = 1', 'nested query'],
  ['@request.method.x = 1', 'method path'],
  ['@unknown = 1', 'unknown macro'],
  ['@collection.posts = 1', '@collection without field'],
  ['a:foo = 1', 'unknown modifier'],
  ['a:isset = true', ':isset on a field'],
  ['tags:each:length = 1', 'double modifier'],
  ['a = 1abc', 'bad number'],
  ['a = 1e999', 'infinite number'],
  ['a..b = 1', 'empty segment'],
  ['a = `x`', 'backtick'],
  ['a = 1 @', 'stray @'],
  ['x'.repeat(RULE_LIMITS.maxLength + 1), 'too long'],
  ['('.repeat(RULE_LIMITS.maxDepth + 1) + 'a = 1' + ')'.repeat(RULE_LIMITS.maxDepth + 1), 'too deep'],
  ['('.repeat(100000) + 'a = 1', 'very deep (no stack overflow)'],
  [Array.from({ length: RULE_LIMITS.maxComparisons + 1 }, () => 'a=1').join('&&'), 'too many comparisons'],
];

for (const [src, name] of invalidCases) {
  test(`rejects ${name}`, () => {
    assert.throws(() => parseExpression(src), (e) => isBasaltError(e) && e.code === 'filter_invalid' && e.status === 400);
  });
}

test('error messages say where, and never echo SQL keywords back as SQL', () => {
  try {
    parseExpression('title = "x"; DROP TABLE posts');
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isBasaltError(e));
    assert.match(e.message, /position 11/);
  }
});

test('depth at the limit is accepted', () => {
  const d = RULE_LIMITS.maxDepth;
  assert.doesNotThrow(() => parseExpression('('.repeat(d) + 'a = 1' + ')'.repeat(d)));
});

test('printExpression is canonical', () => {
  assert.equal(printExpression(parseExpression('(a=1&&b ?~ "x\\"y")||c:length>2')), 'a = 1 && b ?~ "x\\"y" || c:length > 2');
  assert.equal(printExpression(parseExpression('a=1&&(b=2||c=3)')), 'a = 1 && (b = 2 || c = 3)');
  assert.equal(printExpression(parseExpression('a=1||(b=2||c=3)')), 'a = 1 || (b = 2 || c = 3)');
  assert.equal(printExpression(parseExpression("@request.data.x = 'q'")), '@request.body.x = "q"');
});
