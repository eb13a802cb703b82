import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Semaphore } from '../../src/runtime/semaphore.ts';

test('runs at most `permits` tasks at a time, the others in arrival order, and survives a failing task', async () => {
  const slots = new Semaphore(1);
  const log: string[] = [];
  const task =
    (name: string, fail = false) =>
    async (): Promise<string> => {
      log.push(`start ${name}`);
      await new Promise((resolve) => setImmediate(resolve));
      log.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    };
  const results = await Promise.allSettled([slots.run(task('a')), slots.run(task('b', true)), slots.run(task('c'))]);
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  assert.equal(await slots.run(task('d')), 'd', 'the permit came back after the failure');
});
