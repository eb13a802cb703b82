import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { runChecks, startHttpServer } from '../../src/runtime/http-server.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { RuntimeMetrics } from '../../src/runtime/metrics.ts';
import { WorkQueue } from '../../src/runtime/workqueue.ts';

describe('health checks', () => {
  test('all passing: ok', async () => {
    assert.deepEqual(await runChecks({ a: () => true, b: () => Promise.resolve(true as const) }, 'readyz'), {
      ok: true,
      body: 'ok\n',
    });
  });

  test('a failing or throwing check fails the whole, each reported on its line', async () => {
    const report = await runChecks(
      {
        informers: () => true,
        caches: () => 'statefulsets.apps not synced',
        broken: () => {
          throw new Error('boom');
        },
      },
      'readyz',
    );
    assert.equal(report.ok, false);
    assert.equal(
      report.body,
      '[+]informers ok\n[-]caches failed: statefulsets.apps not synced\n[-]broken failed: boom\nreadyz check failed\n',
    );
  });
});

describe('http server and metrics', () => {
  test('serves /metrics, /healthz, /readyz; 404 and 405 otherwise; closes with keep-alive clients', async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const metrics = new RuntimeMetrics(registry, { clock });
    let synced = false;
    const server = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      registry,
      healthChecks: { informers: () => true },
      readinessChecks: { caches: () => synced || 'not synced' },
    });
    try {
      const hooks = metrics.reconcileHooks('kasprapp', 4);
      hooks.onStart();
      hooks.onStart();
      hooks.onResult({ key: 'ns/a', result: 'success', durationMs: 12 });
      hooks.onStart();
      hooks.onResult({ key: 'ns/a', result: 'error', durationMs: 3, error: new Error('x') });
      hooks.onStart();
      hooks.onResult({ key: 'ns/b', result: 'requeue', durationMs: 1 });
      const queue = new WorkQueue({ clock, metrics: metrics.workQueue('kasprapp') });
      queue.add('a');
      queue.add('a');
      queue.add('b');
      queue.add('c');
      await clock.advance(2000);
      assert.equal(await queue.get(), 'a');
      await clock.advance(500);
      assert.equal(await queue.get(), 'b');
      await clock.advance(1000);
      queue.done('b');
      queue.addRateLimited('b');
      metrics.observeRequest({
        verb: 'PATCH',
        host: '10.0.0.1:6443',
        path: '/x',
        status: 200,
        durationMs: 1,
        watch: false,
      });
      metrics.observeRequest({
        verb: 'GET',
        host: '10.0.0.1:6443',
        path: '/x',
        status: 200,
        durationMs: 1,
        watch: true,
      });
      metrics.observeRequest({
        verb: 'GET',
        host: '10.0.0.1:6443',
        path: '/x',
        status: 0,
        durationMs: 1,
        watch: false,
      });
      metrics.watchInformer({ resource: 'statefulsets.apps', hasSynced: () => synced });
      metrics.watchLeader('kasprop-leader', { isLeader: () => false });
      metrics.watchLeader('kasprop-leader', { isLeader: () => true });
      metrics.watchLeader('other', { isLeader: () => false });

      const scrape = await fetch(`${server.url}/metrics`);
      assert.equal(scrape.status, 200);
      assert.match(scrape.headers.get('content-type') ?? '', /text\/plain/);
      const text = await scrape.text();
      for (const line of [
        'controller_runtime_reconcile_total{controller="kasprapp",result="success"} 1',
        'controller_runtime_reconcile_total{controller="kasprapp",result="error"} 1',
        'controller_runtime_reconcile_total{controller="kasprapp",result="requeue_after"} 1',
        'controller_runtime_reconcile_errors_total{controller="kasprapp"} 1',
        'controller_runtime_reconcile_time_seconds_count{controller="kasprapp"} 3',
        'controller_runtime_reconcile_time_seconds_bucket{le="0.025",controller="kasprapp"} 3',
        'controller_runtime_active_workers{controller="kasprapp"} 1',
        'controller_runtime_max_concurrent_reconciles{controller="kasprapp"} 4',
        'workqueue_depth{name="kasprapp"} 1',
        'workqueue_adds_total{name="kasprapp"} 3',
        // a waited 2 s, b 2.5 s: both in the 10 s bucket, neither in the 1 s one.
        'workqueue_queue_duration_seconds_count{name="kasprapp"} 2',
        'workqueue_queue_duration_seconds_sum{name="kasprapp"} 4.5',
        'workqueue_queue_duration_seconds_bucket{le="1",name="kasprapp"} 0',
        'workqueue_queue_duration_seconds_bucket{le="10",name="kasprapp"} 2',
        'workqueue_work_duration_seconds_count{name="kasprapp"} 1',
        'workqueue_work_duration_seconds_sum{name="kasprapp"} 1',
        'workqueue_retries_total{name="kasprapp"} 1',
        // a is still being processed, for 1.5 s now.
        'workqueue_unfinished_work_seconds{name="kasprapp"} 1.5',
        'workqueue_longest_running_processor_seconds{name="kasprapp"} 1.5',
        'rest_client_requests_total{code="200",method="PATCH",host="10.0.0.1:6443"} 1',
        'rest_client_requests_total{code="200",method="GET",host="10.0.0.1:6443"} 1',
        'rest_client_requests_total{code="<error>",method="GET",host="10.0.0.1:6443"} 1',
        'leader_election_master_status{name="kasprop-leader"} 1',
        'leader_election_master_status{name="other"} 0',
        'kasprop_informer_synced{resource="statefulsets.apps"} 0',
      ]) {
        assert.ok(text.includes(line), `missing ${line}`);
      }
      assert.doesNotMatch(
        text,
        /^kasprop_(reconcile|workqueue|api_requests|leader)/m,
        'the retired duplicates are gone',
      );

      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
      const notReady = await fetch(`${server.url}/readyz`);
      assert.equal(notReady.status, 503);
      assert.match(await notReady.text(), /\[-\]caches failed: not synced/);
      synced = true;
      const ready = await fetch(`${server.url}/readyz`);
      assert.equal(ready.status, 200);
      assert.equal(await ready.text(), 'ok\n');
      assert.match(
        await (await fetch(`${server.url}/metrics`)).text(),
        /kasprop_informer_synced\{resource="statefulsets.apps"\} 1/,
      );
      assert.equal((await fetch(`${server.url}/nope`)).status, 404);
      assert.equal((await fetch(`${server.url}/metrics`, { method: 'POST' })).status, 405);
    } finally {
      await server.close();
    }
  });

  test('a port in use is an error, not a silent failure', async () => {
    const registry = new Registry();
    const first = await startHttpServer({ port: 0, host: '127.0.0.1', registry });
    try {
      await assert.rejects(startHttpServer({ port: first.port, host: '127.0.0.1', registry }), /EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});
