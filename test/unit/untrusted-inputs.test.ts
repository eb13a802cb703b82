// Validation's verdict on every input of the shared corpus; test/script/untrusted-inputs.test.ts checks the
// installer's on the same file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateKasprApp } from '../../src/api/validation.ts';
import { untrustedInputs, type CorpusEntry } from '../corpus/untrusted-inputs.ts';

const app = (pythonPackages: Record<string, unknown>): unknown => ({
  apiVersion: 'kaspr.io/v1alpha1',
  kind: 'KasprApp',
  metadata: { name: 'corpus' },
  spec: { bootstrapServers: 'kafka:9092', pythonPackages },
});

const fields: [kind: keyof typeof untrustedInputs, place: (input: string) => Record<string, unknown>][] = [
  ['requirements', (input) => ({ packages: [input] })],
  ['indexUrls', (input) => ({ packages: ['requests'], indexUrl: input })],
  ['trustedHosts', (input) => ({ packages: ['requests'], trustedHosts: [input] })],
];

for (const [kind, place] of fields) {
  test(`validation gives the corpus verdict on every one of its ${kind}`, () => {
    const entries: readonly CorpusEntry[] = untrustedInputs[kind];
    assert.ok(entries.length >= 8);
    for (const entry of entries) {
      const result = validateKasprApp(app(place(entry.input)));
      const errors = result.ok ? [] : result.errors.map((e) => `${e.path}: ${e.message}`);
      assert.equal(result.ok, entry.accept, `${entry.input} (${entry.why}): ${errors.join('; ')}`);
    }
  });
}
