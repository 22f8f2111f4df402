/**
 * The compiled row serialiser must give byte-for-byte what JSON.stringify of the decoded record gives,
 * for every field type and for odd stored values.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalizeCollection } from '../../src/schema/index.ts';
import { rowSerializer, rowToRecord, stripHidden } from '../../src/records/index.ts';

const c = normalizeCollection({
  name: 'things',
  fields: [
    { name: 'title', type: 'text' }, { name: 'secretish', type: 'text', hidden: true }, { name: 'n', type: 'number' },
    { name: 'ok', type: 'bool' }, { name: 'when', type: 'date' }, { name: 'data', type: 'json' },
    { name: 'one', type: 'select', values: ['a', 'b'] }, { name: 'many', type: 'select', values: ['a', 'b'], maxSelect: 2 },
    { name: 'ref', type: 'relation', collectionId: 'things' }, { name: 'refs', type: 'relation', collectionId: 'things', maxSelect: 5 },
  ],
});

const stored = fc.record({
  id: fc.string({ minLength: 1, maxLength: 15 }),
  title: fc.oneof(fc.string(), fc.constant(null)),
  secretish: fc.string(),
  n: fc.oneof(fc.double(), fc.integer(), fc.constant(null)),
  ok: fc.oneof(fc.constantFrom(0, 1, true, false, null)),
  when: fc.string(),
  data: fc.oneof(fc.jsonValue().map((v) => JSON.stringify(v)), fc.constant(null), fc.string(), fc.jsonValue()),
  one: fc.string(),
  many: fc.oneof(fc.array(fc.string()).map((a) => JSON.stringify(a)), fc.constant('not json'), fc.constant(null), fc.array(fc.string())),
  ref: fc.string(),
  refs: fc.oneof(fc.array(fc.string()).map((a) => JSON.stringify(a)), fc.constant('[1,2]')),
});

describe('rowSerializer', () => {
  it('equals JSON.stringify(rowToRecord(row)) for superusers and with hidden fields stripped', () => {
    fc.assert(fc.property(stored, (row) => {
      const record = rowToRecord(c, row);
      assert.equal(rowSerializer(c, true)(row), JSON.stringify(record));
      assert.equal(rowSerializer(c, false)(row), JSON.stringify(stripHidden(c, record)));
    }), { numRuns: 500 });
  });
});
