// `kasprop validate -f FILE...`: every problem of every KasprApp in the files, as `file:doc:path: reason`.
import { validateKasprApp } from '../api/validation.ts';
import { describeDocument, isKasprAppDocument, readManifests } from './manifests.ts';

export interface CommandIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

export function validateCommand(files: readonly string[], io: CommandIo): number {
  const { documents, problems } = readManifests(files);
  let failed = problems.length > 0;
  for (const p of problems) io.out(`${p.file}:${p.index ?? '-'}: ${p.message}`);
  for (const doc of documents) {
    const where = `${doc.file}:${doc.index}`;
    if (!isKasprAppDocument(doc.value)) {
      io.err(`${where}: skipped (${describeDocument(doc.value)} is not a KasprApp)`);
      continue;
    }
    const result = validateKasprApp(doc.value);
    for (const w of result.warnings) io.err(`${where}:${w.path}: warning: ${w.message}`);
    if (!result.ok) {
      failed = true;
      for (const e of result.errors) io.out(`${where}:${e.path}: ${e.message}`);
    }
  }
  return failed ? 1 : 0;
}
