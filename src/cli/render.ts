// `kasprop render -f FILE [-o yaml|json]`: the children the operator would apply for each KasprApp in the files,
// in apply order. Validation comes first: invalid input prints the errors and nothing on stdout.
import { stringify } from 'yaml';
import { validateKasprApp } from '../api/validation.ts';
import type { KasprApp } from '../api/types.ts';
import { resolveApp } from '../model/app-model.ts';
import { buildChildren, type DesiredObject } from '../model/children.ts';
import type { OperatorSettings } from '../model/operator-settings.ts';
import { formatDocumentError, formatProblem, isKasprAppDocument, readManifests } from './manifests.ts';
import type { CommandIo } from './validate.ts';

export type OutputFormat = 'yaml' | 'json';

export function renderCommand(
  files: readonly string[],
  baseDir: string,
  format: OutputFormat,
  settings: OperatorSettings,
  io: CommandIo,
): number {
  const { documents, problems } = readManifests(files, baseDir);
  const apps: KasprApp[] = [];
  let failed = problems.length > 0;
  for (const p of problems) io.err(formatProblem(p));
  for (const doc of documents.filter((d) => isKasprAppDocument(d.value))) {
    const result = validateKasprApp(doc.value);
    for (const w of result.warnings) io.err(formatDocumentError(doc, w, 'warning: '));
    if (result.ok) apps.push(result.app);
    else {
      failed = true;
      for (const e of result.errors) io.err(formatDocumentError(doc, e));
    }
  }
  if (failed) return 1;
  if (apps.length === 0) {
    io.err('kasprop render: no KasprApp found in the given files');
    return 1;
  }

  const children: DesiredObject[] = [];
  for (const app of apps) {
    const model = resolveApp(app, settings);
    for (const warning of model.warnings) io.err(`${app.metadata.name}: warning: ${warning}`);
    children.push(...buildChildren(model));
  }
  const withoutUid = apps.some((app) => app.metadata.uid === undefined);
  io.out(format === 'json' ? formatJson(children) : formatYaml(children, withoutUid));
  return 0;
}

export const formatJson = (children: readonly DesiredObject[]): string =>
  JSON.stringify({ apiVersion: 'v1', kind: 'List', items: children }, null, 2);

export function formatYaml(children: readonly DesiredObject[], withoutUid: boolean): string {
  const note = withoutUid
    ? '# ownerReferences are added by the operator once the KasprApp exists (they need its uid).\n'
    : '';
  return note + children.map((child) => stringify(child, { lineWidth: 0 }).trimEnd()).join('\n---\n');
}
