import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { runChecks, startHttpServer } from '../../src/runtime/http-server.ts';
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
    const metrics = new RuntimeMetrics(registry);
    let synced = false;
    const server = await startHttpServer({
      port: 0,
      host: '127.0.0.1',
      registry,
      healthChecks: { informers: () => true },
      readinessChecks: { caches: () => synced || 'not synced' },
    });
    try {
      const observe = metrics.reconcileObserver('kasprapp');
      observe({ key: 'ns/a', result: 'success', durationMs: 12 });
      observe({ key: 'ns/a', result: 'error', durationMs: 3, error: new Error('x') });
      observe({ key: 'ns/b', result: 'requeue', durationMs: 1 });
      const queue = new WorkQueue({ metrics: metrics.workQueue('kasprapp') });
      queue.add('a');
      queue.add('a');
      queue.add('b');
      metrics.observeRequest({ verb: 'PATCH', path: '/x', status: 200, durationMs: 1, watch: false });
      metrics.observeRequest({ verb: 'GET', path: '/x', status: 200, durationMs: 1, watch: true });
      metrics.observeRequest({ verb: 'GET', path: '/x', status: 0, durationMs: 1, watch: false });
      metrics.watchInformer({ resource: 'statefulsets.apps', hasSynced: () => synced });
      metrics.watchLeader({ isLeader: () => true });

      const scrape = await fetch(`${server.url}/metrics`);
      assert.equal(scrape.status, 200);
      assert.match(scrape.headers.get('content-type') ?? '', /text\/plain/);
      const text = await scrape.text();
      for (const line of [
        'kasprop_reconcile_total{controller="kasprapp",result="success"} 1',
        'kasprop_reconcile_total{controller="kasprapp",result="error"} 1',
        'kasprop_reconcile_total{controller="kasprapp",result="requeue"} 1',
        'kasprop_reconcile_errors_total{controller="kasprapp"} 1',
        'kasprop_reconcile_duration_seconds_count{controller="kasprapp"} 3',
        'kasprop_reconcile_duration_seconds_bucket{le="0.025",controller="kasprapp"} 3',
        'kasprop_workqueue_depth{name="kasprapp"} 2',
        'kasprop_workqueue_adds_total{name="kasprapp"} 2',
        'kasprop_api_requests_total{verb="PATCH",code="200"} 1',
        'kasprop_api_requests_total{verb="WATCH",code="200"} 1',
        'kasprop_api_requests_total{verb="GET",code="<error>"} 1',
        'kasprop_informer_synced{resource="statefulsets.apps"} 0',
        'kasprop_leader 1',
      ]) {
        assert.ok(text.includes(line), `missing ${line}`);
      }

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
