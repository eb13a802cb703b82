// Writes the chart's copies (`npm run gen:deploy`): Helm reads files only from inside the chart, so charts/kasprop
// keeps a copy of the CRD (crds/, installed by Helm before the templates), of the dashboard and of the alert rules
// of deploy/monitoring/. test/unit/chart-files.test.ts fails when a copy drifts from its source, until this is run.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { crdText } from '../src/api/crd.ts';

const root = new URL('../', import.meta.url);
const path = (relative: string): string => fileURLToPath(new URL(relative, root));

const generatedHeader = (source: string): string =>
  `# GENERATED from ${source} by \`npm run gen:deploy\`: edit the source, not this copy (Helm reads files only\n` +
  '# from inside the chart).\n';

/** The spec of deploy/monitoring/prometheus-rule.yaml, unindented: the chart wraps it in its own PrometheusRule. */
export function ruleSpecText(ruleFile: string): string {
  const lines = ruleFile.split('\n');
  const start = lines.indexOf('spec:');
  if (start < 0) throw new Error('deploy/monitoring/prometheus-rule.yaml has no top-level spec:');
  const body = lines.slice(start + 1).map((line) => {
    if (line !== '' && !line.startsWith('  ')) throw new Error(`prometheus-rule.yaml: spec: must be last: ${line}`);
    return line.slice(2);
  });
  return generatedHeader('deploy/monitoring/prometheus-rule.yaml (its spec)') + body.join('\n');
}

/** Each chart copy (path in the repository) and what it must contain. */
export function chartFiles(): Record<string, string> {
  return {
    'charts/kasprop/crds/kasprapp.crd.yaml': generatedHeader('crds/kasprapp.crd.yaml') + crdText,
    'charts/kasprop/files/kasprop-dashboard.json': readFileSync(
      path('deploy/monitoring/kasprop-dashboard.json'),
      'utf8',
    ),
    'charts/kasprop/files/prometheus-rule-spec.yaml': ruleSpecText(
      readFileSync(path('deploy/monitoring/prometheus-rule.yaml'), 'utf8'),
    ),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [file, text] of Object.entries(chartFiles())) {
    writeFileSync(path(file), text);
    console.log(`wrote ${file}`);
  }
}
