// Reads the install-packages init container's termination message. With FallbackToLogsOnError the kubelet puts the
// log tail there when the installer wrote nothing (OOM kill, a crash before the first line, an image without python3),
// so a message that is not a result is an expected outcome, not an exception.
import {
  INSTALL_ERROR_TYPES,
  RESULT_FORMAT_VERSION,
  type InstallErrorType,
  type InstallResult,
  type InstallSource,
} from './installer-contract.ts';

export type ParsedInstallResult =
  | { readonly kind: 'result'; readonly result: InstallResult }
  | {
      readonly kind: 'unreadable';
      /** Why the message is not a result, for status and events. */
      readonly reason: string;
      /** The message's last non-empty line, shortened: usually the installer's or the shell's last words. */
      readonly excerpt: string;
    };

const EXCERPT_CHARS = 300;

export function parseInstallResult(text: string): ParsedInstallResult {
  const trimmed = text.trim();
  if (trimmed === '') return unreadable('the termination message is empty', trimmed);
  let document: unknown;
  try {
    document = JSON.parse(trimmed);
  } catch {
    return unreadable('the termination message is not an install result (the container log tail?)', trimmed);
  }
  if (!isRecord(document)) return unreadable('the termination message is JSON but not an object', trimmed);
  if (document.formatVersion !== RESULT_FORMAT_VERSION) {
    return unreadable(`unsupported result format version ${JSON.stringify(document.formatVersion)}`, trimmed);
  }
  const problems = Object.entries(resultFields)
    .filter(([name, check]) => !check(document[name]))
    .map(([name]) => name);
  // Results of installers older than the store have no counts; present, they must be counts.
  const counts = (['fromStore', 'downloaded'] as const).filter((name) => document[name] !== undefined);
  problems.push(...counts.filter((name) => !isCount(document[name])));
  if (problems.length > 0) {
    return unreadable(`the install result has missing or malformed fields: ${problems.join(', ')}`, trimmed);
  }
  // Every field has passed its check above; unknown fields are dropped.
  const fields = Object.fromEntries(Object.keys(resultFields).map((name) => [name, document[name]]));
  // Results of installers older than the lock have no hashVerified: they never verified digests.
  const hashVerified = document.hashVerified === true;
  // Results of installers older than bundles have no installSource: they only ever read the indexes.
  const installSource = isInstallSource(document.installSource) ? document.installSource : 'index';
  const countFields = Object.fromEntries(counts.map((name) => [name, document[name]]));
  return {
    kind: 'result',
    result: {
      formatVersion: RESULT_FORMAT_VERSION,
      ...fields,
      hashVerified,
      installSource,
      ...countFields,
    } as InstallResult,
  };
}

type Check<T> = (value: unknown) => value is T;

type OptionalField = 'hashVerified' | 'installSource' | 'fromStore' | 'downloaded';

/** Each field of a result (but formatVersion, checked first, and the optional ones) and its check. */
const resultFields: {
  readonly [K in Exclude<keyof InstallResult, 'formatVersion' | OptionalField>]-?: Check<InstallResult[K]>;
} = {
  state: (v): v is 'Ready' | 'Failed' => v === 'Ready' || v === 'Failed',
  source: (v): v is 'installed' | 'cache' => v === 'installed' || v === 'cache',
  hash: isString,
  installed: isStringArray,
  installedTotal: isCount,
  installedBy: isString,
  installTime: isString,
  durationSeconds: isNonNegativeNumber,
  pythonVersion: isString,
  attempts: isCount,
  errorType: (v): v is InstallErrorType | null => v === null || isErrorType(v),
  error: (v): v is string | null => v === null || typeof v === 'string',
  warnings: isStringArray,
};

function unreadable(reason: string, text: string): ParsedInstallResult {
  const lines = text.split('\n').filter((line) => line.trim() !== '');
  const last = (lines.at(-1) ?? '').trim();
  const excerpt = last.length <= EXCERPT_CHARS ? last : `${last.slice(0, EXCERPT_CHARS - 3)}...`;
  return { kind: 'unreadable', reason, excerpt };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every(isString);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function isNonNegativeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function isInstallSource(value: unknown): value is InstallSource {
  return value === 'index' || value === 'bundle' || value === 'bundleAndIndex';
}

function isErrorType(value: unknown): value is InstallErrorType {
  return INSTALL_ERROR_TYPES.some((type) => type === value);
}
