// deploy/monitoring/ and the chart's copies of it, read as data: every query names a metric the code registers,
// every alert has its runbook in the user guide, and the chart's copies are current (npm run gen:deploy).
// test/integration/monitoring.test.ts checks the same queries against a live /metrics scrape.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { chartFiles } from '../../scripts/gen-chart-files.ts';
import { registerAppMetrics } from '../../src/controller/app-metrics.ts';
import { PackageMetrics } from '../../src/controller/package-metrics.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { RuntimeMetrics } from '../../src/runtime/metrics.ts';
import { alertRules, dashboard, exportedNames, metricNames, promisedMetrics, queries } from '../support/monitoring.ts';

const root = new URL('../../', import.meta.url);

/** The /metrics page of the registries the operator builds (operator.ts), before anything happened. */
async function registeredNames(): Promise<Set<string>> {
  const registry = new Registry();
  new RuntimeMetrics(registry);
  new PackageMetrics(registry);
  registerAppMetrics(registry, () => [], systemClock);
  return exportedNames(await registry.metrics());
}

describe('metric names', () => {
  test('the code registers every metric the issue and the original plan promise', async () => {
    const names = await registeredNames();
    for (const name of promisedMetrics) assert.ok(names.has(name), `${name} is not registered`);
  });

  test('metricNames finds the metrics of a query, not its functions, labels, keywords or variables', () => {
    assert.deepEqual(
      metricNames(
        'histogram_quantile(0.9, sum by (le) (rate(a_seconds_bucket{name="x", code=~"5..|<error>"}[$__rate_interval])))' +
          ' / on (pod) group_left (node) b_total > bool 0.5 or absent(c{name="kasprop-leader"})',
      ),
      ['a_seconds_bucket', 'b_total', 'c'],
    );
  });
});

describe('deploy/monitoring/', () => {
  test('every metric the dashboard and the alerts query is one the operator registers', async () => {
    const names = await registeredNames();
    for (const { where, expr } of queries()) {
      const used = metricNames(expr);
      assert.ok(used.length > 0, `${where}: no metric found in ${expr}`);
      for (const name of used)
        assert.ok(names.has(name), `${where} queries ${name}, which the operator does not export`);
    }
  });

  test('the dashboard shows installs, apps, reconciles, the queue, the leader and API requests', () => {
    const used = new Set(queries().flatMap(({ expr }) => metricNames(expr)));
    for (const name of [
      'kasprop_package_install_total',
      'kasprop_package_install_duration_seconds_bucket',
      'kasprop_package_install_errors_total',
      'kasprop_app_ready',
      'kasprop_package_installing_seconds',
      'kasprop_package_install_timeout_seconds',
      'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_errors_total',
      'controller_runtime_reconcile_time_seconds_bucket',
      'workqueue_depth',
      'workqueue_queue_duration_seconds_bucket',
      'workqueue_retries_total',
      'leader_election_master_status',
      'rest_client_requests_total',
    ]) {
      assert.ok(used.has(name), `nothing shows ${name}`);
    }
    const ids = dashboard().panels.map((p) => (p as { id?: number }).id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  });

  test('every alert has a summary, a description, a severity and a runbook section in the user guide', () => {
    const guide = readFileSync(new URL('docs/user-guide/python-packages.md', root), 'utf8');
    const headings = new Set([...guide.matchAll(/^#+ (.+)$/gm)].map(([, h]) => (h ?? '').toLowerCase()));
    const rules = alertRules();
    assert.ok(rules.length >= 6);
    for (const rule of rules) {
      const { summary, description, runbook } = rule.annotations;
      assert.ok(summary && description, `${rule.alert}: summary and description`);
      assert.equal(runbook, `docs/user-guide/python-packages.md#${rule.alert.toLowerCase()}`, rule.alert);
      assert.ok(headings.has(rule.alert.toLowerCase()), `the user guide has no section "${rule.alert}"`);
      assert.match((rule as unknown as { labels: { severity: string } }).labels.severity, /^(warning|critical)$/);
    }
  });

  test("the chart's copies of the CRD, the dashboard and the rules are current (npm run gen:deploy)", () => {
    for (const [file, text] of Object.entries(chartFiles())) {
      assert.equal(readFileSync(new URL(file, root), 'utf8'), text, `${file} drifted: npm run gen:deploy`);
    }
  });
});
