/**
 * Limits on decoded JSON-like input that every door applies before a value goes further: nesting depth
 * (recursive consumers such as `JSON.stringify`, serialisers and drivers overflow the stack on a few
 * thousand levels) and NUL characters (PostgreSQL `text`/`jsonb` cannot hold U+0000, SQLite truncates
 * at it in places). No domain knowledge: callers decide which error to answer.
 */

/** Deepest nesting accepted in a request body or a `json` field value (the root object is level 1). */
export const MAX_JSON_DEPTH = 64;

/** What {@link inspectJson} found. `key` is the top-level member the problem is under, when there is one. */
export interface JsonProblem {
  problem: 'too_deep' | 'nul';
  /** The root object's member that holds the problem (absent for a problem at the root, or in a root key). */
  key?: string;
}

/** Whether a string holds U+0000. */
export function hasNul(s: string): boolean {
  return s.indexOf('\0') !== -1;
}

/**
 * Walk a decoded value (objects, arrays, strings, numbers, …) without recursion and report the first
 * problem: nested deeper than `maxDepth`, or a NUL in a string or an object key. Answers undefined when
 * the value is clean.
 *
 * @example
 * inspectJson({ a: [[['x\u0000']]] }, 64) // → { problem: 'nul', key: 'a' }
 */
export function inspectJson(value: unknown, maxDepth = MAX_JSON_DEPTH): JsonProblem | undefined {
  if (typeof value === 'string') return hasNul(value) ? { problem: 'nul' } : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  // Each entry: a container, its depth, and the top-level key it lies under.
  const stack: { v: object; depth: number; key: string | undefined }[] = [{ v: value, depth: 1, key: undefined }];
  while (stack.length) {
    const { v, depth, key } = stack.pop()!;
    if (depth > maxDepth) return { problem: 'too_deep', key };
    if (Array.isArray(v)) {
      for (const item of v) {
        if (typeof item === 'string') {
          if (hasNul(item)) return { problem: 'nul', key };
        } else if (typeof item === 'object' && item !== null) stack.push({ v: item, depth: depth + 1, key });
      }
      continue;
    }
    for (const [k, item] of Object.entries(v)) {
      const under = depth === 1 ? k : key;
      if (hasNul(k)) return { problem: 'nul', key: depth === 1 ? undefined : key };
      if (typeof item === 'string') {
        if (hasNul(item)) return { problem: 'nul', key: under };
      } else if (typeof item === 'object' && item !== null) stack.push({ v: item, depth: depth + 1, key: under });
    }
  }
  return undefined;
}
