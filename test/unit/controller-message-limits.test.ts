// A spec the CRD accepts can produce hundreds of field errors that each quote a 2 KB input; what the operator writes
// into status and events stays small whatever the input (review F6: the InvalidSpec message was 1 MB).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateKasprApp } from '../../src/api/validation.ts';
import { invalidStatus } from '../../src/controller/app-status.ts';
import { invalidSpecEvent } from '../../src/controller/events.ts';
import { MAX_MESSAGE_CHARS } from '../../src/controller/message-limits.ts';
import { packagesStatus } from '../../src/controller/packages-status.ts';
import type { KasprApp } from '../../src/api/types.ts';

const hugeInvalidApp = {
  apiVersion: 'kaspr.io/v1alpha1',
  kind: 'KasprApp',
  metadata: { name: 'big', namespace: 'default', generation: 1 },
  spec: {
    bootstrapServers: 'k:9092',
    pythonPackages: {
      packages: Array.from({ length: 256 }, (_, i) => `p${String(i)}==v${'1'.repeat(2039 - String(i).length)}x`),
    },
  },
};

test('256 invalid 2 KB requirements: the InvalidSpec condition and event stay under 4096 characters', () => {
  const validation = validateKasprApp(hugeInvalidApp);
  assert.ok(!validation.ok);
  assert.equal(validation.errors.length, 256);
  const status = invalidStatus({
    app: hugeInvalidApp as unknown as KasprApp,
    now: '2026-01-01T00:00:00Z',
    errors: validation.errors,
  });
  const message = status.conditions?.find((c) => c.reason === 'InvalidSpec')?.message ?? '';
  assert.ok(message.length <= MAX_MESSAGE_CHARS, `condition message of ${String(message.length)} characters`);
  assert.match(message, /^spec\.pythonPackages\.packages\[0\]: invalid requirement /);
  assert.match(message, /; and 246 more \(`kasprop validate -f <file>` lists them all\)$/);
  const event = invalidSpecEvent(validation.errors.map((e) => `${e.path}: ${e.message}`));
  assert.ok(event.message.length <= MAX_MESSAGE_CHARS);
});

test('a long error and many warnings from an install are cut in status.pythonPackages', () => {
  const status = packagesStatus({
    hash: 'aaaaaaaaaaaaaaaa',
    cacheMode: 'shared',
    observations: [],
    previous: undefined,
    warnings: Array.from({ length: 50 }, (_, i) => `warning ${String(i)} ${'w'.repeat(1000)}`),
  });
  assert.equal(status.warnings?.length, 10);
  assert.ok(status.warnings.every((w) => w.length <= 300));
  assert.equal(status.warnings[9], 'and 41 more warnings');
});
