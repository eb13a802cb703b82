// The operator's live /metrics, after it took an app with packages to Ready under leader election: it exports every
// metric the issue and the original plan promise, and every metric the dashboard and the alerts of deploy/monitoring/
// query (test/unit/monitoring.test.ts checks the same against the registries, without a cluster).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { connectCluster, installKasprAppCrd } from '../support/integration.ts';
import { createApp, kasprApp, waitForCondition, waitForPackages } from '../support/kasprapps.ts';
import { exportedNames, metricNames, promisedMetrics, queries } from '../support/monitoring.ts';
import { startScenario } from '../support/scenario.ts';

const cluster = await connectCluster();
await installKasprAppCrd(cluster.client);

test('a live /metrics scrape exports every promised metric and every metric the dashboard and alerts query', async (t) => {
  const lease = `kasprop-leader-${randomBytes(4).toString('hex')}`;
  t.after(() => cluster.client.delete(ResourceTypes.Lease, { namespace: 'default', name: lease }));
  const { ns, operator, packages } = await startScenario(t, cluster, {
    operator: { leaderElection: { namespace: 'default', name: lease, identity: 'monitoring' } },
  });
  await createApp(cluster.client, kasprApp(ns.name, 'mon', { pythonPackages: packages(['kaspr-demo-c==1.0']) }));
  await waitForPackages(cluster.client, ns.name, 'mon', (s) => s.state === 'Ready', 'Ready');
  await waitForCondition(cluster.client, ns.name, 'mon', 'Ready', (c) => c.status === 'True');

  const text = await operator.metrics();
  const exported = exportedNames(text);
  for (const name of promisedMetrics) assert.ok(exported.has(name), `${name} is not exported`);
  for (const { where, expr } of queries()) {
    for (const name of metricNames(expr)) assert.ok(exported.has(name), `${where} queries ${name}, not exported`);
  }

  // And they count what happened, with their usual labels.
  const app = `app_name="mon",namespace="${ns.name}"`;
  for (const pattern of [
    /^controller_runtime_reconcile_total\{controller="kasprapp",result="(success|requeue_after)"\} [1-9]/m,
    /^controller_runtime_max_concurrent_reconciles\{controller="kasprapp"\} 2$/m,
    /^workqueue_adds_total\{name="kasprapp"\} [1-9]/m,
    /^workqueue_queue_duration_seconds_count\{name="kasprapp"\} [1-9]/m,
    /^rest_client_requests_total\{code="200",method="GET",host="[^"]+:\d+"\} [1-9]/m,
    /^rest_client_requests_total\{code="201",method="POST",host="[^"]+:\d+"\} [1-9]/m,
    new RegExp(`^leader_election_master_status\\{name="${lease}"\\} 1$`, 'm'),
    new RegExp(`^kasprop_app_ready\\{${app}\\} 1$`, 'm'),
    new RegExp(`^kasprop_package_install_state\\{${app},state="Ready"\\} 1$`, 'm'),
    new RegExp(`^kasprop_package_install_total\\{${app},result="success"\\} 1$`, 'm'),
  ]) {
    assert.match(text, pattern);
  }
});
