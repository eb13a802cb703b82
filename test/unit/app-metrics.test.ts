import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { KasprApp } from '../../src/api/types.ts';
import { appSample, registerAppMetrics } from '../../src/controller/app-metrics.ts';
import { ManualClock } from '../../src/runtime/clock.ts';

const t0 = Date.parse('2026-01-01T00:00:00Z');

function app(name: string, extra: Partial<KasprApp> = {}): KasprApp {
  return {
    apiVersion: 'kaspr.io/v1alpha1',
    kind: 'KasprApp',
    metadata: { name, namespace: 'ns' },
    spec: { bootstrapServers: 'kafka:9092', ...extra.spec },
    ...(extra.status && { status: extra.status }),
  };
}

const installing = app('slow', {
  spec: { pythonPackages: { packages: ['a'], installPolicy: { retries: 1, timeout: 60 } } } as KasprApp['spec'],
  status: {
    pythonPackages: { state: 'Installing' },
    conditions: [
      {
        type: 'Ready',
        status: 'False',
        reason: 'Progressing',
        message: '',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
      {
        type: 'PythonPackagesReady',
        status: 'False',
        reason: 'Installing',
        message: '',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ],
  },
});
const ready = app('fine', {
  spec: { pythonPackages: { packages: ['a'] } } as KasprApp['spec'],
  status: {
    pythonPackages: { state: 'Ready' },
    conditions: [
      { type: 'Ready', status: 'True', reason: 'Ready', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' },
    ],
  },
});

test('an app sample: Ready, packages state, how long it has been installing and its timeout (defaults applied)', () => {
  assert.deepEqual(appSample(installing, t0 + 150_000), {
    labels: { app_name: 'slow', namespace: 'ns' },
    ready: 0,
    packagesState: 'Installing',
    installingSeconds: 150,
    installTimeoutSeconds: 120,
  });
  assert.deepEqual(appSample(ready, t0), {
    labels: { app_name: 'fine', namespace: 'ns' },
    ready: 1,
    packagesState: 'Ready',
    installTimeoutSeconds: 2400,
  });
  assert.deepEqual(appSample(app('plain'), t0), { labels: { app_name: 'plain', namespace: 'ns' }, ready: 0 });
});

test('the gauges follow the apps at every scrape: a gone app has no series', async () => {
  const registry = new Registry();
  const clock = new ManualClock(t0 + 700_000);
  let apps: KasprApp[] = [installing, ready];
  registerAppMetrics(registry, () => apps, clock);
  const text = await registry.metrics();
  for (const line of [
    'kasprop_app_ready{app_name="slow",namespace="ns"} 0',
    'kasprop_app_ready{app_name="fine",namespace="ns"} 1',
    'kasprop_package_install_state{app_name="slow",namespace="ns",state="Installing"} 1',
    'kasprop_package_install_state{app_name="slow",namespace="ns",state="Ready"} 0',
    'kasprop_package_install_state{app_name="fine",namespace="ns",state="Ready"} 1',
    'kasprop_package_installing_seconds{app_name="slow",namespace="ns"} 700',
    'kasprop_package_install_timeout_seconds{app_name="slow",namespace="ns"} 120',
  ]) {
    assert.ok(text.includes(line), `missing ${line}`);
  }
  assert.doesNotMatch(text, /kasprop_package_installing_seconds\{app_name="fine"/);
  apps = [ready];
  assert.doesNotMatch(await registry.metrics(), /app_name="slow"/);
});
