// `kasprop bundle -f FILE -o DIR`: downloads the files of each KasprApp's packagesWithHashes (one per locked
// distribution, the one pip picks for the image's Python and platform) into a wheelhouse DIR, pip checking every
// digest and this command checking them again, and prints how to load DIR into a PersistentVolumeClaim, a ConfigMap
// (when it fits) or an image, and the bundleSource that names it. An unlocked spec is refused: a bundle is as
// reproducible as its lock, so `kasprop lock` comes first. Same indexes, options and credentials as `kasprop lock`.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { validateKasprApp } from '../api/validation.ts';
import { isFileOf } from '../packages/lock.ts';
import type { CommandIo } from './validate.ts';
import type { OptionValues } from './commands.ts';
import { isKasprAppDocument } from './manifests.ts';
import {
  indexArguments,
  indexSettings,
  pipEnvironment,
  pipFailure,
  pipTargetOptions,
  runPython,
  scrubber,
  targetArguments,
} from './pip.ts';

export const bundleOptions = {
  options: {
    file: { type: 'string', short: 'f' },
    output: { type: 'string', short: 'o' },
    ...pipTargetOptions,
  },
  help: `  -f, --file FILE          the manifest; every KasprApp in it with pythonPackages is bundled (each needs
                           packagesWithHashes: run \`kasprop lock -f FILE\` first)
  -o, --output DIR         the wheelhouse to write; must be empty or not exist yet
  --index-url URL          download from this index instead of the spec's indexUrl (default: PyPI, or PIP_INDEX_URL)
  --python-version X.Y     the app image's Python, e.g. 3.11; default: python3's here
  --platform TAG           the app image's platform tag, e.g. manylinux2014_x86_64; repeat for more
  KASPROP_INDEX_USERNAME and KASPROP_INDEX_PASSWORD: credentials for the index URL (never written out);
  KASPROP_PYTHON: the python3 that runs pip (default python3)`,
} as const;

/** A ConfigMap (the whole object, base64 in JSON) must stay under 1 MiB; this leaves room for its metadata. */
const configMapDataLimit = 1024 * 1024 - 16 * 1024;

/** ConfigMap keys (and so file names loaded with --from-file): Kubernetes' rule. */
const configMapKeyPattern = /^[-._a-zA-Z0-9]+$/;

interface LockedFile {
  readonly project: string;
  readonly version: string;
  readonly digests: ReadonlySet<string>;
}

export async function bundleCommand(
  values: OptionValues,
  io: CommandIo,
  env: NodeJS.ProcessEnv,
  baseDir: string,
): Promise<number> {
  const file = values.file;
  const output = values.output;
  if (typeof file !== 'string' || typeof output !== 'string') {
    io.err('kasprop bundle: -f FILE and -o DIR are required');
    return 2;
  }
  const dir = resolve(baseDir, output);
  const existing = await readdir(dir).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  });
  if (existing.length > 0) {
    io.err(`kasprop bundle: ${output} is not empty; give a new or empty directory (the bundle is exactly its files)`);
    return 2;
  }
  const documents = parseAllDocuments(await readFile(resolve(baseDir, file), 'utf8'));
  const scrub = scrubber(env);
  const apps: string[] = [];
  for (const doc of Array.isArray(documents) ? documents : [documents]) {
    if (doc.errors.length > 0) {
      io.err(`kasprop bundle: ${file}: YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
      return 1;
    }
    const value: unknown = doc.toJS();
    if (value === null || !isKasprAppDocument(value)) continue;
    const validation = validateKasprApp(value);
    if (!validation.ok) {
      io.err(`kasprop bundle: ${file}: ${validation.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
      return 1;
    }
    const { app, pythonPackages } = validation.valid;
    if (pythonPackages === undefined) continue;
    const name = app.metadata.name;
    const lock = app.spec.pythonPackages?.packagesWithHashes ?? [];
    if (lock.length === 0) {
      io.err(
        `kasprop bundle: ${file}: ${name} has no packagesWithHashes: lock it first with \`kasprop lock -f ${file}\`, ` +
          'so that the bundle holds exactly the locked files',
      );
      return 1;
    }
    try {
      await mkdir(dir, { recursive: true });
      const settings = indexSettings(app.spec.pythonPackages ?? {}, values, env);
      await downloadLocked(pythonPackages.locked, dir, values, env, settings);
      const locked = lock.map((entry) => ({
        project: entry.name,
        version: entry.version,
        digests: new Set(entry.hashes.filter((h) => h.algorithm === 'sha256').map((h) => h.digest.toLowerCase())),
      }));
      await checkFiles(dir, locked);
    } catch (error) {
      io.err(`kasprop bundle: ${file}: ${name}: ${scrub(error instanceof Error ? error.message : String(error))}`);
      return 1;
    }
    apps.push(name);
  }
  if (apps.length === 0) {
    io.err(`kasprop bundle: ${file} has no KasprApp with pythonPackages to bundle`);
    return 1;
  }
  for (const line of await instructions(dir, apps)) io.out(line);
  return 0;
}

/** `pip download --require-hashes --no-deps` of the locked lines: pip checks each file against the lock. */
async function downloadLocked(
  lines: readonly string[],
  dir: string,
  values: OptionValues,
  env: NodeJS.ProcessEnv,
  settings: ReturnType<typeof indexSettings>,
): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'kasprop-bundle-'));
  try {
    const requirements = join(work, 'locked.txt');
    // The canonical `name==version algorithm:hex ...` lines, as pip's hash options (the installer writes the same).
    const pipLines = lines.map((line) => {
      const [pin, ...digests] = line.split(' ');
      return [pin, ...digests.map((digest) => `--hash=${digest}`)].join(' ');
    });
    await writeFile(requirements, pipLines.map((line) => `${line}\n`).join(''));
    const args = ['-m', 'pip', 'download', '--require-hashes', '--no-deps', '--quiet', '--no-input'];
    args.push('--disable-pip-version-check', '--no-cache-dir', '--dest', dir, '-r', requirements);
    args.push(...indexArguments(settings), ...targetArguments(values));
    const { code, stderr } = await runPython(args, pipEnvironment(env, settings), env);
    if (code !== 0) throw new Error(`pip could not download the locked files: ${pipFailure(stderr, code)}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Every file in DIR is a file of a locked distribution with a locked sha256 (recomputed), and each has one. */
async function checkFiles(dir: string, locked: readonly LockedFile[]): Promise<void> {
  const found = new Set<LockedFile>();
  for (const name of await readdir(dir)) {
    const entry = locked.find((l) => isFileOf(name, l.project, l.version));
    const digest = createHash('sha256')
      .update(await readFile(join(dir, name)))
      .digest('hex');
    if (entry === undefined) throw new Error(`${name} is not a file of any locked distribution`);
    if (!entry.digests.has(digest)) throw new Error(`${name} has sha256:${digest}, which the lock does not list`);
    found.add(entry);
  }
  const missing = locked.filter((entry) => !found.has(entry));
  if (missing.length > 0) {
    throw new Error(`no file was downloaded for ${missing.map((m) => `${m.project}==${m.version}`).join(', ')}`);
  }
}

/** What to do with DIR: its size, a name after its content, and the ways into the cluster. */
async function instructions(dir: string, apps: readonly string[]): Promise<string[]> {
  const names = (await readdir(dir)).sort();
  const digests = createHash('sha256');
  let bytes = 0;
  for (const name of names) {
    const content = await readFile(join(dir, name));
    bytes += (await stat(join(dir, name))).size;
    digests.update(`${name} ${createHash('sha256').update(content).digest('hex')}\n`);
  }
  // Named after the content: a new bundle gets a new name, so the spec changes and the pods install it (the spec
  // hash covers the bundle's source, not what is in it).
  const bundle = `${apps[0] ?? 'app'}-bundle-${digests.digest('hex').slice(0, 10)}`;
  const base64Bytes = Math.ceil(bytes / 3) * 4;
  const lines = [
    `kasprop bundle: ${String(names.length)} files, ${kib(bytes)} in ${dir}`,
    '',
    '# Into a PersistentVolumeClaim (ReadWriteMany like the packages cache: the pods of every node read it; any pod',
    '# that mounts it writable loads it, here one of the app image, which the cluster has), then:',
    `#   bundleSource: {type: pvc, name: ${bundle}}`,
    `kubectl create -f - <<'EOF'`,
    'apiVersion: v1',
    'kind: PersistentVolumeClaim',
    `metadata: {name: ${bundle}}`,
    `spec: {accessModes: [ReadWriteMany], resources: {requests: {storage: ${mib(bytes * 2)}}}}`,
    'EOF',
    `kubectl run ${bundle}-load --image=APP_IMAGE --restart=Never --overrides='{"spec":{"volumes":[{"name":"b",` +
      `"persistentVolumeClaim":{"claimName":"${bundle}"}}],"containers":[{"name":"load","image":"APP_IMAGE",` +
      `"command":["sleep","600"],"volumeMounts":[{"name":"b","mountPath":"/bundle"}]}]}}'`,
    `kubectl wait --for=condition=Ready pod/${bundle}-load`,
    `kubectl cp ${shellWord(`${dir}/.`)} ${bundle}-load:/bundle/`,
    `kubectl delete pod ${bundle}-load`,
    '',
  ];
  const keysFit = names.every((name) => configMapKeyPattern.test(name));
  if (base64Bytes <= configMapDataLimit && keysFit) {
    lines.push(
      `# Into a ConfigMap (${kib(base64Bytes)} as base64, under the 1 MiB limit; binary files go to binaryData), then:`,
      `#   bundleSource: {type: configmap, name: ${bundle}}`,
      `kubectl create configmap ${bundle} --from-file=${shellWord(dir)}`,
    );
  } else {
    lines.push(
      `# Not into a ConfigMap: ${keysFit ? `${kib(base64Bytes)} as base64 is over its 1 MiB limit` : 'a file name is not a ConfigMap key'}.`,
    );
  }
  lines.push(
    '',
    '# Into an OCI image (nodes with image volumes: Kubernetes 1.35+, containerd 2.1+ or CRI-O), then:',
    `#   bundleSource: {type: image, reference: REGISTRY/${bundle}:1, path: wheels}`,
    `#   Dockerfile in ${dir}: FROM scratch / COPY *.whl /wheels/`,
  );
  return lines;
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

/** A claim size with room for the filesystem: at least 16Mi. */
const mib = (bytes: number): string => `${String(Math.max(16, Math.ceil(bytes / (1024 * 1024))))}Mi`;

/** The path as one shell word, for the commands printed (never run). */
function shellWord(text: string): string {
  return /^[-\w./=:@]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
