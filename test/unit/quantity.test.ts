import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canonicalQuantity,
  canonicalResourceListQuantity,
  parseQuantity,
  storedAs,
} from '../../src/kubernetes/quantity.ts';
import { acceptedQuantities, refusedQuantities, refusedThoughAccepted } from '../corpus/quantities.ts';

// What the apiserver stores for each input (from resource.Quantity's own tests and read back from a kube-apiserver
// by test/integration/quantity.test.ts, which checks the whole corpus).
const stored: [input: string | number, text: string][] = [
  ['1Ki', '1Ki'],
  ['1024Mi', '1Gi'],
  ['1000M', '1G'],
  ['.001Ki', '1024m'],
  ['.000000000001Ki', '2n'],
  ['0.0005', '500u'],
  [0.0005, '500u'],
  ['1.5Gi', '1536Mi'],
  ['0.5Ki', '512'],
  ['1e3', '1e3'],
  ['1.5e3', '1500'],
  ['12e6', '12e6'],
  ['1e-10', '1e-9'],
  ['+1', '+1'],
  ['1.500', '1.500'],
  ['0.10', '100m'],
  ['1500', '1500'],
  ['1000', '1k'],
  [1e21, '1e+21'],
  ['9223372036854775807Ei', '9223372036854775807'],
  ['-1.5Gi', '-1536Mi'],
  ['-0.0005', '-500u'],
];

describe('quantities as the apiserver reads and writes them', () => {
  for (const [input, text] of stored) {
    test(`${JSON.stringify(input)} is stored as ${text}`, () => {
      assert.equal(canonicalQuantity(input), text);
    });
  }

  test('values are exact: equal values in any form compare equal, nothing else does', () => {
    const same = (a: string | number, b: string | number): boolean => storedAs(a, b, false);
    assert.ok(same(0.0005, '500u'));
    assert.ok(same('1', '1000m'));
    assert.ok(same('1Gi', '1073741824'));
    assert.ok(same('0.1', '100m'));
    assert.ok(same('1e-10', '1n'), 'the apiserver rounds up to 1n');
    assert.ok(!same('1Gi', '1G'));
    assert.ok(!same('1000001u', '1'));
    assert.ok(!same('abc', 'abc'));
    assert.equal(parseQuantity('256Mi')?.nanos, 256n * 2n ** 20n * 10n ** 9n);
    assert.equal(parseQuantity('-2.5m')?.nanos, -2_500_000n);
  });

  test('in a ResourceList the apiserver rounds up to 1m', () => {
    assert.equal(canonicalResourceListQuantity(0.0005), '1m');
    assert.equal(canonicalResourceListQuantity('500u'), '1m');
    assert.equal(canonicalResourceListQuantity('2.5e-7'), '1e-3');
    assert.equal(canonicalResourceListQuantity('1500u'), '2m');
    assert.equal(canonicalResourceListQuantity('+1'), '+1', 'a value at milli scale keeps its string');
    assert.ok(storedAs(0.0005, '1m', true));
    assert.ok(!storedAs(0.0005, '1m', false));
  });

  test(`accepts the ${acceptedQuantities.length} quantities of the corpus, with a stable stored form`, () => {
    for (const input of acceptedQuantities) {
      const parsed = parseQuantity(input);
      assert.ok(parsed, JSON.stringify(input));
      assert.equal(canonicalQuantity(parsed.text), parsed.text, `${JSON.stringify(input)} -> ${parsed.text}`);
      assert.equal(parseQuantity(parsed.text)?.nanos, parsed.nanos);
    }
  });

  test(`refuses the ${refusedQuantities.length + refusedThoughAccepted.length} non-quantities of the corpus`, () => {
    for (const input of [...refusedQuantities, ...refusedThoughAccepted, '', '  ', NaN, Infinity]) {
      assert.equal(parseQuantity(input), undefined, JSON.stringify(input));
    }
  });
});
