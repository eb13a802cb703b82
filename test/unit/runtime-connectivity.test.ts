import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/runtime/clock.ts';
import { isNamespaceTerminating, KubeApiError } from '../../src/runtime/kube/client.ts';
import { ApiConnectivity, maxProbesWithin, probeDelayMs } from '../../src/runtime/kube/connectivity.ts';

test('probes back off exponentially to the cap; the bound counts the probe that finds the server back', () => {
  const backoff = { initialMs: 250, maxMs: 4_000 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 9].map((attempt) => probeDelayMs(attempt, backoff)),
    [250, 500, 1000, 2000, 4000, 4000, 4000],
  );
  // At 250, 750, 1750, 3750, 7750, 11750, ... 27750 ms: 30 s hold 10 probes, and one more finds the server back.
  assert.equal(maxProbesWithin(30_000, backoff), 11);
  assert.equal(maxProbesWithin(100, backoff), 1);
});

test('every waiter wakes on the first answer; probing stops', async () => {
  const clock = new ManualClock();
  let probes = 0;
  const connectivity: ApiConnectivity = new ApiConnectivity({
    clock,
    backoff: { initialMs: 100, maxMs: 1_000 },
    probe: () => {
      probes++;
      return Promise.resolve();
    },
  });
  assert.equal(await connectivity.whenReachable(), true, 'reachable until a request gets no answer');
  connectivity.unreachable();
  connectivity.unreachable();
  assert.equal(connectivity.outages, 1);
  const woken: boolean[] = [];
  const waiters = [connectivity.whenReachable(), connectivity.whenReachable()].map((p) =>
    p.then((up) => woken.push(up)),
  );
  await clock.advance(100 + 200);
  assert.equal(probes, 2);
  assert.deepEqual(woken, []);
  connectivity.answered();
  await Promise.all(waiters);
  assert.deepEqual(woken, [true, true]);
  await clock.advance(10_000);
  assert.equal(probes, 2, 'no probe once the server answered');
  assert.equal(clock.pending, 0);

  connectivity.unreachable();
  const aborted = new AbortController();
  const waiting = connectivity.whenReachable(aborted.signal);
  aborted.abort();
  assert.equal(await waiting, false);
  connectivity.close();
  assert.equal(await connectivity.whenReachable(), false, 'a closed client never comes back');
});

test('a 403 for a namespace being deleted is recognised by its cause, or by its message', () => {
  const withCause = new KubeApiError(
    403,
    {
      message:
        'statefulsets.apps "a" is forbidden: unable to create new content in namespace x because it is being terminated',
      reason: 'Forbidden',
      details: { causes: [{ reason: 'NamespaceTerminating', message: 'namespace x is being terminated' }] },
    },
    'forbidden',
  );
  assert.equal(isNamespaceTerminating(withCause), true);
  const messageOnly = new KubeApiError(
    403,
    { message: 'unable to create new content in namespace x because it is being terminated' },
    'forbidden',
  );
  assert.equal(isNamespaceTerminating(messageOnly), true);
  assert.equal(isNamespaceTerminating(new KubeApiError(403, { message: 'RBAC: access denied' }, 'forbidden')), false);
});
