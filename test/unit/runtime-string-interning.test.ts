// String identity is not observable from JavaScript, so these tests check the table; the memory it saves is measured
// by `npm run bench -- operator` (heap with 1000 KasprApps).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StringInterner } from '../../src/runtime/string-interning.ts';

test('a long string seen in many parsed documents takes one table entry; short strings take none', () => {
  const interner = new StringInterner(32);
  const program = 'x'.repeat(64);
  for (let i = 0; i < 100; i++) {
    const parsed = JSON.parse(
      JSON.stringify({ spec: { args: [program, 'install-packages'], name: `app-${i}` } }),
    ) as unknown;
    assert.deepEqual(interner.internDeep(parsed), { spec: { args: [program, 'install-packages'], name: `app-${i}` } });
  }
  assert.equal(interner.size, 1);
});

test('a string is shared from its second sighting; strings seen once do not displace shared ones', () => {
  const interner = new StringInterner(4, 2);
  for (const text of ['aaaa', 'bbbb', 'aaaa', 'bbbb']) assert.equal(interner.intern(text), text);
  assert.equal(interner.size, 2);
  for (let i = 0; i < 100; i++) interner.intern(`unique-${i}`);
  assert.equal(interner.size, 2);
});

test('the shared table is bounded: the oldest entry goes first', () => {
  const interner = new StringInterner(4, 2);
  for (const text of ['aaaa', 'bbbb', 'cccc', 'dddd']) {
    assert.equal(interner.intern(text), text);
    assert.equal(interner.intern(text), text);
  }
  assert.equal(interner.size, 2);
});
