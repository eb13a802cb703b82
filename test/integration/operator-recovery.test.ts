// The operator survives the kube-apiserver going away mid-run: its watches come back and it converges. This file
// restarts an apiserver, so it runs on a control plane of its own, not the one other files share, with simulated
// pods (the machine's one real node belongs to the run's cluster).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { startControlPlane } from '../support/controlplane.ts';
import { createTestNamespace, installKasprAppCrd, type Cluster } from '../support/integration.ts';
import { startTestOperator } from '../support/operator.ts';
import {
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
