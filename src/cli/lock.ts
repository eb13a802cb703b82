// `kasprop lock -f FILE`: resolves each KasprApp's `pythonPackages.packages` with pip on this machine and writes the
// full transitive set, with the digest of every file of each pinned version, back as `packagesWithHashes` (or prints
// it as a merge patch). Index credentials come from the environment and reach pip through its environment, never an
// argv, and nothing of them is written out.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { validateKasprApp } from '../api/validation.ts';
import type { PythonPackagesSpec } from '../api/types.ts';
import { buildLock, isFileOf, parsePipReport, parseProjectPage, type ResolvedDistribution } from '../packages/lock.ts';
import type { LockedPackage } from '../packages/locked-packages.ts';
import { normalizeProjectName } from '../packages/requirement.ts';
import { isKasprAppDocument } from './manifests.ts';
import type { OptionValues } from './commands.ts';
import type { CommandIo } from './validate.ts';
import {
  indexArguments,
  indexSettings,
  pipEnvironment,
  pipFailure,
  runPython,
  scrubber,
  targetArguments,
  pipTargetOptions,
  type IndexSettings,
} from './pip.ts';

export const lockOptions = {
  options: {
    file: { type: 'string', short: 'f' },
    ...pipTargetOptions,
    patch: { type: 'boolean' },
  },
  help: `  -f, --file FILE          the manifest; every KasprApp in it with pythonPackages.packages is locked
  --index-url URL          resolve against this index instead of the spec's indexUrl (default: PyPI, or
                           PIP_INDEX_URL); the spec's extraIndexUrls and trustedHosts are used as they are
  --python-version X.Y     resolve for this Python (the app image's), e.g. 3.11; default: python3's here
  --platform TAG           resolve for this platform tag, e.g. manylinux2014_x86_64; repeat for more
                           (with --python-version or --platform, pip considers wheels only)
  --patch                  print a merge patch per app (kubectl patch --type merge) instead of rewriting FILE
  KASPROP_INDEX_USERNAME and KASPROP_INDEX_PASSWORD: credentials for the index URL (never written out);
  KASPROP_PYTHON: the python3 that runs pip (default python3)`,
} as const;

export async function lockCommand(
  values: OptionValues,
  io: CommandIo,
  env: NodeJS.ProcessEnv,
  baseDir: string,
): Promise<number> {
  const file = values.file;
  if (typeof file !== 'string') {
    io.err('kasprop lock: -f FILE is required');
    return 2;
  }
  const path = resolve(baseDir, file);
  const text = await readFile(path, 'utf8');
  const documents = parseAllDocuments(text);
  const locks: { name: string; lock: LockedPackage[] }[] = [];
  const scrub = scrubber(env);
  for (const doc of Array.isArray(documents) ? documents : [documents]) {
    if (doc.errors.length > 0) {
      io.err(`kasprop lock: ${file}: YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
      return 1;
    }
    const value: unknown = doc.toJS();
    if (value === null || !isKasprAppDocument(value)) continue;
    const app = value as { metadata?: { name?: string }; spec?: { pythonPackages?: Partial<PythonPackagesSpec> } };
    const name = app.metadata?.name ?? '(unnamed)';
    const spec = app.spec?.pythonPackages;
    if (spec?.packages === undefined) continue;
    const lockable = lockableRequirements(value);
    if (!lockable.ok) {
      io.err(`kasprop lock: ${file}: ${name}: ${lockable.problem}`);
      return 1;
    }
    const settings = indexSettings(spec, values, env);
    try {
      const resolved = await resolveWithPip(lockable.requirements, settings, values, env);
      const digests = new Map<ResolvedDistribution, string[]>();
      for (const distribution of resolved) digests.set(distribution, await indexDigests(distribution, settings));
      const lock = buildLock(resolved, (d) => digests.get(d) ?? []);
      locks.push({ name, lock });
      if (values.patch !== true) doc.setIn(['spec', 'pythonPackages', 'packagesWithHashes'], doc.createNode(lock));
      const files = lock.reduce((sum, entry) => sum + entry.hashes.length, 0);
      io.err(`kasprop lock: ${name}: ${String(lock.length)} distributions, ${String(files)} file digests`);
    } catch (error) {
      io.err(`kasprop lock: ${file}: ${name}: ${scrub(error instanceof Error ? error.message : String(error))}`);
      return 1;
    }
  }
  if (locks.length === 0) {
    io.err(`kasprop lock: ${file} has no KasprApp with pythonPackages.packages to lock`);
    return 1;
  }
  if (values.patch === true) {
    for (const { name, lock } of locks) {
      io.out(`# kubectl patch kasprapp ${name} --type merge --patch-file <this document>`);
      io.out(stringify({ spec: { pythonPackages: { packagesWithHashes: lock } } }).trimEnd());
      if (locks.length > 1) io.out('---');
    }
    return 0;
  }
  await writeFile(path, documents.map((doc) => doc.toString()).join(''));
  return 0;
}

/** Why this app cannot be locked: its spec, the lock left out (a stale lock is what locking fixes), is invalid. */
/** The app's canonical requirement lines, as validation parsed them, or why they cannot be locked. */
function lockableRequirements(
  value: unknown,
): { readonly ok: true; readonly requirements: string[] } | { readonly ok: false; readonly problem: string } {
  const copy = structuredClone(value) as { spec: { pythonPackages: Record<string, unknown> } };
  delete copy.spec.pythonPackages.packagesWithHashes;
  delete copy.spec.pythonPackages.requireHashes;
  const result = validateKasprApp(copy);
  if (!result.ok) return { ok: false, problem: result.errors.map((e) => `${e.path}: ${e.message}`).join('; ') };
  const requirements = result.valid.pythonPackages?.requirements ?? [];
  const direct = requirements.find((requirement) => requirement.url !== undefined);
  return direct === undefined
    ? { ok: true, requirements: requirements.map((requirement) => requirement.canonical) }
    : {
        ok: false,
        problem: `'${direct.canonical}' is a URL or VCS requirement: pip cannot check it against digests, so it cannot be locked`,
      };
}

/** pip's resolution of the requirements, run as `pip install --dry-run --report -` against the given indexes. */
async function resolveWithPip(
  requirements: readonly string[],
  settings: IndexSettings,
  values: OptionValues,
  env: NodeJS.ProcessEnv,
): Promise<ResolvedDistribution[]> {
  const work = await mkdtemp(join(tmpdir(), 'kasprop-lock-'));
  try {
    const requirementsFile = join(work, 'requirements.txt');
    await writeFile(requirementsFile, requirements.map((line) => `${line}\n`).join(''));
    const args = ['-m', 'pip', 'install', '--dry-run', '--ignore-installed', '--quiet', '--report', '-'];
    args.push('--target', join(work, 'target'), '--no-input', '--disable-pip-version-check', '-r', requirementsFile);
    args.push(...indexArguments(settings), ...targetArguments(values));
    const { code, stdout, stderr } = await runPython(args, pipEnvironment(env, settings), env);
    if (code !== 0) throw new Error(`pip could not resolve the packages: ${pipFailure(stderr, code)}`);
    return parsePipReport(stdout);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The sha256 of every file of this distribution's version on the project pages of all indexes (pip treats them as one
 * pool, so a file from any of them could be picked); a file listed without a digest is downloaded and hashed.
 */
async function indexDigests(distribution: ResolvedDistribution, settings: IndexSettings): Promise<string[]> {
  const digests: string[] = [];
  for (const index of [settings.indexUrl, ...settings.extraIndexUrls]) {
    const page = new URL(`${normalizeProjectName(distribution.name)}/`, index.endsWith('/') ? index : `${index}/`);
    const response = await get(page, settings);
    if (response.status === 404) continue;
    if (!response.ok) throw new Error(`${redacted(page)} answered ${String(response.status)}`);
    const files = parseProjectPage(await response.text(), response.headers.get('content-type') ?? '', response.url);
    for (const file of files.filter((f) => isFileOf(f.filename, distribution.name, distribution.version))) {
      digests.push(file.sha256 ?? (await downloadDigest(new URL(file.url), settings)));
    }
  }
  return digests;
}

async function downloadDigest(url: URL, settings: IndexSettings): Promise<string> {
  const response = await get(url, settings);
  if (!response.ok) throw new Error(`${redacted(url)} answered ${String(response.status)}`);
  return createHash('sha256')
    .update(Buffer.from(await response.arrayBuffer()))
    .digest('hex');
}

/** GET with basic auth only for the index URL's scheme, host and port: the credentials belong to that index alone. */
function get(url: URL, settings: IndexSettings): Promise<Response> {
  const headers: Record<string, string> = {
    Accept: 'application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1',
  };
  const credentials = settings.username !== '' || settings.password !== '';
  if (credentials && url.origin === new URL(settings.indexUrl).origin) {
    headers.Authorization = `Basic ${Buffer.from(`${settings.username}:${settings.password}`).toString('base64')}`;
  }
  return fetch(url, { headers });
}

const redacted = (url: URL): string => `${url.origin}${url.pathname}`;
