// `kasprop render -f FILE [-o yaml|json]`: the children the operator would apply for each KasprApp in the files,
// in apply order. Validation comes first: invalid input prints the errors and nothing on stdout.
import { stringify } from 'yaml';
import { validateKasprApp } from '../api/validation.ts';
import type { ValidKasprApp } from '../api/valid-app.ts';
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
  const apps: ValidKasprApp[] = [];
  let failed = problems.length > 0;
  for (const p of problems) io.err(formatProblem(p));
  for (const doc of documents.filter((d) => isKasprAppDocument(d.value))) {
    const result = validateKasprApp(doc.value);
    for (const w of result.warnings) io.err(formatDocumentError(doc, w, 'warning: '));
    if (result.ok) apps.push(result.valid);
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

  // Written object by object as each app is built: the whole output of thousands of apps is one string too many
  // (V8 caps a string near 512 MB), and nothing needs it at once.
  const withoutUid = apps.some(({ app }) => app.metadata.uid === undefined);
  const write = format === 'json' ? jsonWriter(io) : yamlWriter(io, withoutUid);
  for (const valid of apps) {
    const model = resolveApp(valid, settings);
    for (const warning of model.warnings) io.err(`${model.name}: warning: ${warning}`);
    for (const child of buildChildren(model)) write.object(child);
  }
  write.end();
  return 0;
}

interface Writer {
  object(child: DesiredObject): void;
  end(): void;
}

/** `kubectl`'s List, written as JSON.stringify(list, null, 2) would write it, one item at a time. */
function jsonWriter(io: CommandIo): Writer {
  io.out('{\n  "apiVersion": "v1",\n  "kind": "List",\n  "items": [');
  let pending: string | undefined;
  return {
    object: (child) => {
      if (pending !== undefined) io.out(`${pending},`);
      pending = JSON.stringify(child, null, 2).replace(/^/gm, '    ');
    },
    end: () => {
      if (pending !== undefined) io.out(pending);
      io.out('  ]\n}');
    },
  };
}

function yamlWriter(io: CommandIo, withoutUid: boolean): Writer {
  if (withoutUid) io.out(ownerReferencesNote);
  let first = true;
  return {
    object: (child) => {
      if (!first) io.out('---');
      first = false;
      io.out(yamlDocument(child));
    },
    end: () => undefined,
  };
}

const ownerReferencesNote = '# ownerReferences are added by the operator once the KasprApp exists (they need its uid).';

const yamlDocument = (child: DesiredObject): string => stringify(child, { lineWidth: 0 }).trimEnd();

export function formatYaml(children: readonly DesiredObject[], withoutUid: boolean): string {
  const note = withoutUid ? `${ownerReferencesNote}\n` : '';
  return note + children.map(yamlDocument).join('\n---\n');
}
