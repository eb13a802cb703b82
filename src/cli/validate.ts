// `kasprop validate -f FILE...`: every problem of every KasprApp in the files, as `file:line: field: reason`, and
// for each file a line saying what was checked, so that silence never has to mean success.
import { validateKasprApp } from '../api/validation.ts';
import {
  describeDocument,
  formatDocumentError,
  formatProblem,
  isKasprAppDocument,
  readManifests,
  type ManifestDocument,
} from './manifests.ts';

export interface CommandIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** What validate found in one file. */
interface FileTally {
  readonly file: string;
  readonly apps: number;
  readonly invalidApps: number;
  readonly errors: number;
  readonly warnings: number;
  /** `apiVersion kind` of each document that is not a KasprApp. */
  readonly skipped: readonly string[];
}

export function validateCommand(files: readonly string[], baseDir: string, io: CommandIo): number {
  const unique = [...new Set(files)];
  const { documents, problems } = readManifests(unique, baseDir);
  let failed = problems.length > 0;
  for (const file of unique) {
    const fileProblems = problems.filter((p) => p.file === file);
    for (const p of fileProblems) io.out(formatProblem(p));
    if (fileProblems.some((p) => p.unreadable)) continue;
    const tally = validateFile(
      file,
      documents.filter((d) => d.file === file),
      io,
    );
    failed ||= tally.invalidApps > 0;
    io.out(summarize(tally));
  }
  return failed ? 1 : 0;
}

function validateFile(file: string, documents: readonly ManifestDocument[], io: CommandIo): FileTally {
  let apps = 0;
  let invalidApps = 0;
  let errors = 0;
  let warnings = 0;
  const skipped: string[] = [];
  for (const doc of documents) {
    if (!isKasprAppDocument(doc.value)) {
      skipped.push(describeDocument(doc.value));
      continue;
    }
    apps++;
    const result = validateKasprApp(doc.value);
    warnings += result.warnings.length;
    for (const w of result.warnings) io.err(formatDocumentError(doc, w, 'warning: '));
    if (!result.ok) {
      invalidApps++;
      errors += result.errors.length;
      for (const e of result.errors) io.out(formatDocumentError(doc, e));
    }
  }
  return { file, apps, invalidApps, errors, warnings, skipped };
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** `basic.yaml: 1 KasprApp valid, 0 warnings; 1 document skipped (v1 Secret)`. */
function summarize(tally: FileTally): string {
  const { file, apps, invalidApps, errors, warnings, skipped } = tally;
  const others = skipped.length > 0 ? `; ${count(skipped.length, 'document')} skipped (${skipped.join(', ')})` : '';
  if (apps === 0) return `${file}: no KasprApp${others}`;
  const verdict =
    invalidApps === 0
      ? `${count(apps, 'KasprApp')} valid`
      : `${invalidApps === apps ? '' : `${invalidApps} of `}${count(apps, 'KasprApp')} invalid (${count(errors, 'error')})`;
  return `${file}: ${verdict}, ${count(warnings, 'warning')}${others}`;
}
