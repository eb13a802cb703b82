// Reading KasprApp manifests from multi-document YAML files, for the commands that take `-f FILE`.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

export interface ManifestDocument {
  readonly file: string;
  /** 1-based position of the document in its file. */
  readonly index: number;
  readonly value: unknown;
}

export interface ManifestProblem {
  readonly file: string;
  readonly index?: number;
  readonly message: string;
}

export function readManifests(files: readonly string[]): {
  documents: ManifestDocument[];
  problems: ManifestProblem[];
} {
  const documents: ManifestDocument[] = [];
  const problems: ManifestProblem[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      problems.push({ file, message: `cannot read: ${(error as Error).message}` });
      continue;
    }
    parseAllDocuments(text).forEach((doc, i) => {
      const index = i + 1;
      if (doc.errors.length > 0) {
        for (const e of doc.errors) problems.push({ file, index, message: `YAML: ${e.message.split('\n')[0] ?? ''}` });
        return;
      }
      const value: unknown = doc.toJS();
      if (value !== null && value !== undefined) documents.push({ file, index, value });
    });
  }
  return { documents, problems };
}

/** Whether a document is meant to be a KasprApp (so a misspelled one is validated, not skipped). */
export function isKasprAppDocument(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return true;
  const { apiVersion, kind } = value as { apiVersion?: unknown; kind?: unknown };
  return kind === 'KasprApp' || (typeof apiVersion === 'string' && apiVersion.startsWith('kaspr.io/'));
}

export const describeDocument = (value: unknown): string => {
  const { apiVersion, kind } = (value ?? {}) as { apiVersion?: unknown; kind?: unknown };
  return `${String(apiVersion)} ${String(kind)}`;
};
