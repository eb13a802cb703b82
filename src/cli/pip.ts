// pip on the user's machine, as `kasprop lock` and `kasprop bundle` run it: the indexes of the spec (or the
// command line), credentials from the environment, the image's Python and platform as options, and nothing of this
// machine's pip settings. The index URL, credentials included, reaches pip in its environment, which other users
// cannot read, never in its argv, which they can; and nothing of the credentials is written out.
import { spawn } from 'node:child_process';
import type { PythonPackagesSpec } from '../api/types.ts';
import type { OptionValues } from './commands.ts';

/** The options both commands take to choose the index and the target interpreter. */
export const pipTargetOptions = {
  'index-url': { type: 'string' },
  'python-version': { type: 'string' },
  platform: { type: 'string', multiple: true },
} as const;

export interface IndexSettings {
  readonly indexUrl: string;
  readonly extraIndexUrls: readonly string[];
  readonly trustedHosts: readonly string[];
  readonly username: string;
  readonly password: string;
}

/** `--index-url`, else the spec's indexUrl, else PIP_INDEX_URL, else PyPI; credentials from KASPROP_INDEX_*. */
export function indexSettings(
  spec: Partial<PythonPackagesSpec>,
  values: OptionValues,
  env: NodeJS.ProcessEnv,
): IndexSettings {
  return {
    indexUrl: stringOption(values['index-url']) ?? spec.indexUrl ?? env.PIP_INDEX_URL ?? 'https://pypi.org/simple/',
    extraIndexUrls: spec.extraIndexUrls ?? [],
    trustedHosts: spec.trustedHosts ?? [],
    username: env.KASPROP_INDEX_USERNAME ?? '',
    password: env.KASPROP_INDEX_PASSWORD ?? '',
  };
}

/** Removes the index password from a message shown to the user. */
export function scrubber(env: NodeJS.ProcessEnv): (message: string) => string {
  const secret = env.KASPROP_INDEX_PASSWORD ?? '';
  return (message) => (secret.length > 0 ? message.split(secret).join('****') : message);
}

/** The extra indexes and trusted hosts (the index URL itself goes in the environment: pipEnvironment). */
export function indexArguments(settings: IndexSettings): string[] {
  const args: string[] = [];
  for (const url of settings.extraIndexUrls) args.push('--extra-index-url', url);
  for (const host of settings.trustedHosts) args.push('--trusted-host', host);
  return args;
}

/** The image's Python version and platform, when given. */
export function targetArguments(values: OptionValues): string[] {
  const args: string[] = [];
  const pythonVersion = stringOption(values['python-version']);
  const platforms = (values.platform as string[] | undefined) ?? [];
  if (pythonVersion !== undefined) args.push('--python-version', pythonVersion);
  for (const platform of platforms) args.push('--platform', platform);
  // pip resolves for another interpreter or platform only from wheels: it cannot run another's build backend.
  if (pythonVersion !== undefined || platforms.length > 0) args.push('--only-binary', ':all:');
  return args;
}

/**
 * pip's environment: no PIP_* of this machine (a find-links directory or another index would change the result)
 * and no pip configuration file, so the spec and the options alone decide; the index URL with the credentials.
 */
export function pipEnvironment(env: NodeJS.ProcessEnv, settings: IndexSettings): NodeJS.ProcessEnv {
  const pipEnv: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(env).filter(([key]) => !key.startsWith('PIP_') && !key.startsWith('KASPROP_INDEX_')),
  );
  return Object.assign(pipEnv, {
    PIP_CONFIG_FILE: '/dev/null',
    PIP_KEYRING_PROVIDER: 'disabled',
    PIP_INDEX_URL: withCredentials(settings),
    PYTHONIOENCODING: 'utf-8',
  });
}

function withCredentials(settings: IndexSettings): string {
  if (settings.username === '' && settings.password === '') return settings.indexUrl;
  const url = new URL(settings.indexUrl);
  url.username = encodeURIComponent(settings.username);
  url.password = encodeURIComponent(settings.password);
  return url.href;
}

/** `python3 ARGS` (KASPROP_PYTHON, default python3), no shell; its output collected. */
export function runPython(args: readonly string[], pipEnv: NodeJS.ProcessEnv, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done, fail) => {
    const child = spawn(env.KASPROP_PYTHON ?? 'python3', args, { env: pipEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', fail);
    child.on('close', (code) => {
      done({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** pip's ERROR lines, or its last lines: why it failed, in one line. */
export function pipFailure(stderr: string, code: number | null): string {
  const lines = stderr.split('\n').filter((line) => line.trim() !== '');
  return (
    lines.filter((line) => line.startsWith('ERROR:')).join(' ') ||
    lines.slice(-3).join(' ') ||
    `exit code ${String(code)}`
  );
}

const stringOption = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
