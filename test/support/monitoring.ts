// What the dashboard and alerts of deploy/monitoring/ query, and what a /metrics page exports: for the tests that
// keep the two in step (test/unit/monitoring.test.ts against the code's registries, the integration tier against a
// live scrape).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const root = new URL('../../', import.meta.url);
const read = (file: string): string => readFileSync(new URL(file, root), 'utf8');

/** The metric names the operator's own issue and the original plan promise. */
export const promisedMetrics = [
  'controller_runtime_reconcile_total',
  'controller_runtime_reconcile_errors_total',
  'controller_runtime_reconcile_time_seconds',
  'controller_runtime_active_workers',
  'controller_runtime_max_concurrent_reconciles',
  'workqueue_depth',
  'workqueue_adds_total',
  'workqueue_queue_duration_seconds',
  'workqueue_work_duration_seconds',
  'workqueue_retries_total',
  'workqueue_unfinished_work_seconds',
  'workqueue_longest_running_processor_seconds',
  'rest_client_requests_total',
  'leader_election_master_status',
  'kasprop_package_install_duration_seconds',
  'kasprop_package_install_total',
  'kasprop_package_install_errors_total',
] as const;

export interface Dashboard {
  readonly panels: readonly {
    readonly type: string;
    readonly title: string;
    readonly targets?: readonly { readonly expr: string }[];
  }[];
}

export interface Rule {
  readonly alert: string;
  readonly expr: string;
  readonly annotations: Record<string, string>;
}

export function dashboard(): Dashboard {
  return JSON.parse(read('deploy/monitoring/kasprop-dashboard.json')) as Dashboard;
}

export function alertRules(): Rule[] {
  const rule = parse(read('deploy/monitoring/prometheus-rule.yaml')) as { spec: { groups: { rules: Rule[] }[] } };
  return rule.spec.groups.flatMap((group) => group.rules);
}

/** Every PromQL expression of the dashboard's panels and of the alerts. */
export function queries(): { readonly where: string; readonly expr: string }[] {
  return [
    ...dashboard().panels.flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr })),
    ),
    ...alertRules().map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
  ];
}

const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'inf', 'nan']);

/**
 * The metric names `expr` selects. Enough PromQL for what these files use: string literals, label matchers, ranges,
 * grouping clauses and Grafana variables are removed; what remains that is a name and not a function call or a
 * keyword is a metric.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?=\s*(\()?)/g)) {
    const [name, call] = [match[0], match[1]];
    if (call === undefined && !keywords.has(name.toLowerCase())) names.add(name);
  }
  return [...names];
}

/** The sample names a /metrics page declares (`# TYPE`), a histogram's `_bucket`, `_sum` and `_count` included. */
export function exportedNames(metricsText: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of metricsText.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (name === undefined) continue;
    names.add(name);
    if (type === 'histogram' || type === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  }
  return names;
}
