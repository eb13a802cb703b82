// The operator survives the kube-apiserver going away mid-run: its watches come back and it converges; while the
// server is gone it waits for it instead of retrying every request, and no event is lost or recorded twice. This
// file restarts an apiserver, so it runs on a control plane of its own, not the one other files share, with
// simulated pods (the machine's one real node belongs to the run's cluster).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane } from '../support/controlplane.ts';
import { childTypes } from '../../src/controller/cluster-view.ts';
import { maxProbesWithin } from '../../src/runtime/kube/connectivity.ts';
import { createTestNamespace, installKasprAppCrd, waitFor, type Cluster } from '../support/integration.ts';
import { startTestOperator } from '../support/operator.ts';
import {
  appEvents,
  createApp,
  getApp,
  imagePath,
  kasprApp,
  setSpec,
  waitForCondition,
  waitForPackages,
} from '../support/kasprapps.ts';
import { testRootEnv } from '../support/processes.ts';
import { startWheelIndex } from '../support/wheel-index.ts';
import { tmpdir } from 'node:os';

const root = mkdtempSync(join(process.env[testRootEnv] ?? tmpdir(), 'recovery-'));
const controlPlane = await startControlPlane({ rootDir: join(root, 'controlplane') });
const cluster: Cluster = {
  kubeconfigPath: controlPlane.kubeconfigPath,
  client: controlPlane.client(),
  dir: root,
  pods: 'simulator',
  serverAddressForPods: '127.0.0.1',
};
after(async () => {
  cluster.client.close();
  await controlPlane.stop();
});
await installKasprAppCrd(cluster.client);

test('restarting the apiserver mid-install: the operator recovers and converges', async (t) => {
  const ns = await createTestNamespace(t, cluster, { path: imagePath });
  const index = await startWheelIndex({ delayMs: 500 });
  t.after(() => index.close());
  await startTestOperator(cluster, { namespaces: [ns.name] });
  const source = { indexUrl: index.url, trustedHosts: [index.host] };

  await createApp(
    cluster.client,
    kasprApp(ns.name, 'survivor', { pythonPackages: { ...source, packages: ['kaspr-demo-a==1.0'] } }),
  );
  await waitForPackages(cluster.client, ns.name, 'survivor', (s) => s.state === 'Installing', 'Installing');
  await controlPlane.restartApiServer({ downMs: 2_000 });

  const first = await waitForPackages(
    cluster.client,
    ns.name,
    'survivor',
    (s) => s.state === 'Ready',
    'Ready after the restart',
  );
  assert.deepEqual(first.installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0']);
  // The watches are back: a change made after the restart is seen and reconciled.
  const spec = (await getApp(cluster.client, ns.name, 'survivor'))!.spec;
  await setSpec(cluster.client, ns.name, 'survivor', {
    ...spec,
    pythonPackages: { ...source, packages: ['kaspr-demo-a==2.0'] },
  });
  const second = await waitForPackages(
    cluster.client,
    ns.name,
    'survivor',
    (s) => s.state === 'Ready' && s.hash !== first.hash,
    'Ready with the change made after the restart',
  );
  assert.deepEqual(second.installed, ['kaspr-demo-a==2.0', 'kaspr-demo-b==2.0']);
  await waitForCondition(cluster.client, ns.name, 'survivor', 'Ready', (c) => c.status === 'True');
});

test('the apiserver killed for 30 s mid-convergence: bounded failed requests, convergence, every event once', async (t) => {
  const ns = await createTestNamespace(t, cluster, { path: imagePath });
  // Slow enough that installs are still running when the server goes.
  const index = await startWheelIndex({ delayMs: 1_500 });
  t.after(() => index.close());
  const workers = 2;
  const operator = await startTestOperator(cluster, { namespaces: [ns.name], workers });
  const source = { indexUrl: index.url, trustedHosts: [index.host] };
  const names = Array.from({ length: 8 }, (_, i) => `app-${i}`);
  await Promise.all(
    names.map((name) =>
      createApp(
        cluster.client,
        kasprApp(ns.name, name, { pythonPackages: { ...source, packages: ['kaspr-demo-a==1.0'] } }),
      ),
    ),
  );
  await waitForPackages(cluster.client, ns.name, 'app-0', (s) => s.state === 'Installing', 'Installing');

  const before = operator.requests.length;
  const killedAt = performance.now();
  await controlPlane.restartApiServer({ downMs: 30_000, kill: true });
  const outageMs = performance.now() - killedAt;

  for (const name of names) {
    await waitForPackages(cluster.client, ns.name, name, (s) => s.state === 'Ready', 'Ready after the outage', 180_000);
    await waitForCondition(cluster.client, ns.name, name, 'Ready', (c) => c.status === 'True', 180_000);
  }

  // Unanswered requests: the client's probe, one per backoff step while the server was gone (and starting), the
  // reconciles in flight when it went (each stops at its first unanswered request), and each informer's list or
  // watch that found it gone (at most two: the one the kill broke, and the one that found the port closed).
  const unanswered = operator.requests.slice(before).filter((r) => r.status === 0);
  const informers = childTypes.length + 3;
  const bound = maxProbesWithin(outageMs) + workers + 2 * informers;
  t.diagnostic(`${unanswered.length} unanswered requests in a ${Math.round(outageMs)} ms outage (bound ${bound})`);
  assert.ok(
    unanswered.length <= bound,
    `${unanswered.length} unanswered requests in a ${Math.round(outageMs)} ms outage; at most ${bound} expected: ` +
      JSON.stringify(unanswered.map((r) => `${r.verb} ${r.path}`)),
  );

  // Every event a user acts on is there, once: derived from the status, recorded before it, under a derived name.
  const expected = ['PackagesInstalling', 'PackagesInstalled'];
  for (const name of names) {
    const reasons = await waitFor(
      async () => {
        const seen = (await appEvents(cluster.client, ns.name, name)).map((e) => e.reason);
        return expected.every((reason) => seen.includes(reason)) ? seen : undefined;
      },
      { message: `the events of ${name}` },
    );
    for (const reason of new Set(reasons)) {
      assert.equal(
        reasons.filter((r) => r === reason).length,
        1,
        `${name}: ${reason} recorded once (${reasons.join(', ')})`,
      );
    }
  }
});
