// Reading KasprApp manifests from multi-document YAML files, for the commands that take `-f FILE`. Every document
// keeps its line numbers, so a problem is reported as `file:line`, the form editors and terminals jump to.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseAllDocuments, type Document } from 'yaml';
import type { FieldError } from '../api/field-error.ts';
import { formatFieldError } from '../api/field-error.ts';

export interface ManifestDocument {
  readonly file: string;
  readonly value: unknown;
  /** The 1-based line of a field path such as `spec.pythonPackages.packages[2]` (see fieldLine). */
  readonly lineOf: (path: string) => number;
}

export interface ManifestProblem {
  readonly file: string;
  /** Where a YAML syntax error is; absent when the file cannot be read at all. */
  readonly line?: number;
  readonly unreadable: boolean;
  readonly message: string;
}

/** Reads each file relative to `baseDir`; messages name it as given. */
export function readManifests(
  files: readonly string[],
  baseDir: string,
): {
  documents: ManifestDocument[];
  problems: ManifestProblem[];
} {
  const documents: ManifestDocument[] = [];
  const problems: ManifestProblem[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(resolve(baseDir, file), 'utf8');
    } catch (error) {
      problems.push({ file, unreadable: true, message: `cannot read: ${(error as Error).message}` });
      continue;
    }
    const lineCounter = new LineCounter();
    for (const doc of parseAllDocuments(text, { lineCounter })) {
      if (doc.errors.length > 0) {
        for (const e of doc.errors) {
          const line = e.linePos?.[0].line;
          problems.push({ file, line, unreadable: false, message: `YAML: ${e.message.split('\n')[0] ?? ''}` });
        }
        continue;
      }
      const value: unknown = doc.toJS();
      if (value === null || value === undefined) continue;
      documents.push({ file, value, lineOf: (path) => fieldLine(doc, lineCounter, path) });
    }
  }
  return { documents, problems };
}

/**
 * The 1-based line of a field path such as `spec.pythonPackages.packages[2]` in a parsed document: the line of its
 * key (or list item), or of its nearest parent's when it is missing (a required field is reported where it should
 * be), or of the document.
 */
export function fieldLine(doc: Document.Parsed, lineCounter: LineCounter, path: string): number {
  const lineAt = (node: unknown): number | undefined =>
    isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : undefined;
  let line = lineAt(doc.contents) ?? lineCounter.linePos(doc.range[0]).line;
  let node: unknown = doc.contents;
  for (const [, index, key] of path.matchAll(/\[(\d+)\]|([^.[\]]+)/g)) {
    let next: unknown;
    if (isMap(node) && key !== undefined) {
      const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
      if (pair === undefined) break;
      line = lineAt(pair.key) ?? line;
      next = pair.value;
    } else if (isSeq(node) && index !== undefined) {
      next = node.items[Number(index)];
      if (next === undefined) break;
      line = lineAt(next) ?? line;
    } else break;
    node = next;
  }
  return line;
}

/** `file:line: field: reason`, with the line of the field. */
export const formatDocumentError = (doc: ManifestDocument, error: FieldError, prefix = ''): string =>
  `${doc.file}:${doc.lineOf(error.path)}: ${prefix}${formatFieldError(error)}`;

export const formatProblem = (p: ManifestProblem): string =>
  `${p.file}${p.line !== undefined ? `:${p.line}` : ''}: ${p.message}`;

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
