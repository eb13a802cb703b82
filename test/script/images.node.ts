// tools/images/build.sh makes the images a real-node cluster imports into containerd. These tests read the archives
// as an importer would (every digest and size), keep the operator image in step with the Dockerfile, and run the
// images' programs from their extracted layers with chroot (the suite runs as root, as the real-node suite must).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { defaultKasprVersion, findKasprVersion } from '../../src/api/versions.ts';
import { buildWheel } from '../support/wheels.ts';

const run = promisify(execFile);
const repo = join(import.meta.dirname, '..', '..');
const buildScript = join(repo, 'tools', 'images', 'build.sh');

interface ImagesJsonEntry {
  readonly archive: string;
  readonly names: readonly string[];
}

interface ImageConfig {
  readonly User?: string;
  readonly Env?: readonly string[];
  readonly Entrypoint?: readonly string[];
  readonly Cmd?: readonly string[];
  readonly WorkingDir?: string;
  readonly ExposedPorts?: Readonly<Record<string, object>>;
}

interface TarEntry {
  readonly name: string;
  readonly type: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** Where the entry's data starts in the file. */
  readonly offset: number;
}

interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>>;
}

interface Image {
  readonly archive: string;
  /** io.containerd.image.name of each index entry: the names `ctr images import` stores. */
  readonly names: readonly string[];
  readonly config: ImageConfig;
  /** The layer blob, inside the archive. */
  readonly layerBlob: TarEntry;
  /** The layer's entries; their offsets are in the archive too. */
  readonly layer: ReadonlyMap<string, TarEntry>;
}

const expectedNames = {
  pause: ['kasprop.test/pause:3.10'],
  python: [`docker.io/${findKasprVersion(defaultKasprVersion)?.image}`, 'kasprop.test/python:3'],
  nopip: ['kasprop.test/python-nopip:3'],
  operator: [await operatorImageName()],
};

/** What deploy/ runs (kustomization.yaml's image, no registry: Docker Hub's library), tagged with package.json's version. */
async function operatorImageName(): Promise<string> {
  const kustomization = parseYaml(await readFile(join(repo, 'deploy', 'kustomization.yaml'), 'utf8')) as {
    images: { name: string; newName: string; newTag: string }[];
  };
  const image = kustomization.images.find((i) => i.name === 'kasprop');
  const { version } = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string };
  assert.equal(image?.newTag, version, 'deploy/kustomization.yaml tags the image with package.json version');
  return `docker.io/library/${image.newName}:${image.newTag}`;
}

type ImageId = keyof typeof expectedNames;

interface Build {
  readonly stdout: string;
  readonly entries: readonly ImagesJsonEntry[];
  readonly images: ReadonlyMap<ImageId, Image>;
}

// One build for the file: a cold one takes about a minute, then every run is a cache hit.
let built: Promise<Build> | undefined;
function build(): Promise<Build> {
  built ??= (async () => {
    const { stdout } = await run(buildScript, []);
    const entries = JSON.parse(await readFile(join(stdout.trim(), 'images.json'), 'utf8')) as ImagesJsonEntry[];
    const images = new Map<ImageId, Image>();
    for (const entry of entries) {
      const id = (Object.keys(expectedNames) as ImageId[]).find((k) => entry.names.includes(expectedNames[k][0] ?? ''));
      assert.ok(id, `unexpected image ${entry.names.join(', ')}`);
      images.set(id, await openImage(entry.archive));
    }
    return { stdout, entries, images };
  })();
  return built;
}

async function image(id: ImageId): Promise<Image> {
  const found = (await build()).images.get(id);
  assert.ok(found, `no ${id} image in images.json`);
  return found;
}

/** Tar headers (ustar plus pax extended headers, as Python's tarfile writes) from `start`; data is skipped. */
function readTar(path: string, start = 0, length = statSync(path).size): TarEntry[] {
  const fd = openSync(path, 'r');
  try {
    const entries: TarEntry[] = [];
    const header = Buffer.alloc(512);
    let position = start;
    let pax: Record<string, string> = {};
    while (
      position < start + length &&
      readSync(fd, header, 0, 512, position) === 512 &&
      !header.every((byte) => byte === 0)
    ) {
      const text = (from: number, size: number): string =>
        header.toString('utf8', from, from + size).replace(/\0.*$/s, '');
      const octal = (from: number, size: number): number => parseInt(text(from, size).trim() || '0', 8);
      const type = header[156] === 0 ? '0' : String.fromCharCode(header[156] ?? 0x30);
      const size = pax.size !== undefined ? Number(pax.size) : octal(124, 12);
      const offset = position + 512;
      position = offset + Math.ceil(size / 512) * 512;
      if (type === 'x') {
        const data = Buffer.alloc(size);
        readSync(fd, data, 0, size, offset);
        pax = parsePax(data);
        continue;
      }
      const prefix = text(345, 155);
      entries.push({
        name: pax.path ?? (prefix ? `${prefix}/${text(0, 100)}` : text(0, 100)),
        type,
        mode: octal(100, 8),
        uid: pax.uid !== undefined ? Number(pax.uid) : octal(108, 8),
        gid: pax.gid !== undefined ? Number(pax.gid) : octal(116, 8),
        size,
        offset,
      });
      pax = {};
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}

function parsePax(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  for (let at = 0; at < data.length;) {
    const space = data.indexOf(0x20, at);
    const length = parseInt(data.toString('utf8', at, space), 10);
    const record = data.toString('utf8', space + 1, at + length - 1);
    const equals = record.indexOf('=');
    records[record.slice(0, equals)] = record.slice(equals + 1);
    at += length;
  }
  return records;
}

function contents(path: string, entry: TarEntry): NodeJS.ReadableStream {
  return createReadStream(path, { start: entry.offset, end: entry.offset + entry.size - 1 });
}

async function sha256(stream: NodeJS.ReadableStream): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function text(path: string, entry: TarEntry): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of contents(path, entry)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads an archive as `ctr images import` does, verifying every digest and size on the way. */
async function openImage(archive: string): Promise<Image> {
  const files = new Map(readTar(archive).map((e) => [e.name, e]));
  const file = (name: string): TarEntry => {
    const entry = files.get(name);
    assert.ok(entry, `${archive} has no ${name}`);
    return entry;
  };
  const blob = async (descriptor: Descriptor): Promise<TarEntry> => {
    const entry = file(`blobs/sha256/${descriptor.digest.replace(/^sha256:/, '')}`);
    assert.equal(entry.size, descriptor.size, `size of ${descriptor.digest}`);
    assert.equal(await sha256(contents(archive, entry)), descriptor.digest);
    return entry;
  };
  assert.deepEqual(JSON.parse(await text(archive, file('oci-layout'))), { imageLayoutVersion: '1.0.0' });
  const index = JSON.parse(await text(archive, file('index.json'))) as { manifests: Descriptor[] };
  assert.equal(new Set(index.manifests.map((m) => m.digest)).size, 1, 'one image per archive, under its names');
  const manifestDescriptor = index.manifests[0];
  assert.ok(manifestDescriptor);
  assert.equal(manifestDescriptor.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  const manifest = JSON.parse(await text(archive, await blob(manifestDescriptor))) as {
    config: Descriptor;
    layers: Descriptor[];
  };
  assert.equal(manifest.config.mediaType, 'application/vnd.oci.image.config.v1+json');
  const config = JSON.parse(await text(archive, await blob(manifest.config))) as {
    config: ImageConfig;
    os: string;
    architecture: string;
    rootfs: { type: string; diff_ids: string[] };
  };
  assert.deepEqual([config.os, config.architecture], ['linux', 'amd64']);
  assert.equal(manifest.layers.length, 1);
  const layerDescriptor = manifest.layers[0] as Descriptor;
  assert.equal(layerDescriptor.mediaType, 'application/vnd.oci.image.layer.v1.tar');
  const layerBlob = await blob(layerDescriptor);
  // Uncompressed: the diff ID containerd checks after unpacking is the blob's own digest.
  assert.deepEqual(config.rootfs, { type: 'layers', diff_ids: [layerDescriptor.digest] });
  return {
    archive,
    names: index.manifests.map((m) => m.annotations?.['io.containerd.image.name'] ?? ''),
    config: config.config,
    layerBlob,
    layer: new Map(readTar(archive, layerBlob.offset, layerBlob.size).map((e) => [e.name.replace(/\/$/, ''), e])),
  };
}

async function extractLayer(image: Image, dir: string): Promise<void> {
  const tar = spawn('tar', ['-x', '-C', dir], { stdio: ['pipe', 'inherit', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => tar.on('close', resolve));
  await pipeline(contents(image.archive, image.layerBlob), tar.stdin);
  assert.equal(await exited, 0, 'tar -x of the layer');
}

async function scratch(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kasprop-images-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function envOf(config: ImageConfig, extra: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(
    (config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );
  return { ...env, ...extra };
}

interface DockerfileStage {
  readonly nodeVersion: string;
  readonly env: readonly string[];
  readonly user: string;
  readonly workdir: string;
  readonly expose: readonly string[];
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  /** Absolute paths the stage's COPY instructions write. */
  readonly copied: readonly string[];
  /** Absolute paths (a trailing * is a prefix) the stage's `RUN rm -rf` removes from the base image. */
  readonly removed: readonly string[];
}

/** The final stage of the Dockerfile, as far as the image config and /app go. */
function parseDockerfile(source: string): DockerfileStage {
  const lines = source
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const instruction = (line: string): [string, string] => {
    const [name = '', ...rest] = line.split(/\s+/);
    return [name.toUpperCase(), rest.join(' ')];
  };
  const nodeVersion = lines
    .map(instruction)
    .find(([name, rest]) => name === 'ARG' && rest.startsWith('NODE_VERSION='))?.[1]
    .slice('NODE_VERSION='.length);
  assert.ok(nodeVersion, 'the Dockerfile has ARG NODE_VERSION=<version>');
  const lastFrom = lines.findLastIndex((line) => instruction(line)[0] === 'FROM');
  const stage = { env: [] as string[], expose: [] as string[], copied: [] as string[], removed: [] as string[] };
  let user = '';
  let workdir = '/';
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  for (const line of lines.slice(lastFrom + 1)) {
    const [name, rest] = instruction(line);
    const words = rest.split(/\s+/);
    if (name === 'ENV') stage.env.push(...words);
    else if (name === 'USER') user = rest;
    else if (name === 'WORKDIR') workdir = posix.resolve(workdir, rest);
    else if (name === 'EXPOSE') stage.expose.push(...words);
    else if (name === 'ENTRYPOINT') entrypoint = JSON.parse(rest) as string[];
    else if (name === 'CMD') cmd = JSON.parse(rest) as string[];
    else if (name === 'COPY') {
      const args = words.filter((w) => !w.startsWith('--'));
      const destination = posix.resolve(workdir, args.at(-1) ?? '');
      const sources = args.slice(0, -1);
      stage.copied.push(
        ...(args.at(-1)?.endsWith('/')
          ? sources.map((s) => posix.join(destination, posix.basename(s)))
          : [destination]),
      );
    } else if (name === 'RUN' && words[0] === 'rm') stage.removed.push(...words.filter((w) => w.startsWith('/')));
  }
  return { nodeVersion, ...stage, user, workdir, entrypoint, cmd };
}

test('build.sh prints a directory whose images.json lists every image by its full names, and reuses it', async () => {
  const { stdout, entries, images } = await build();
  const dir = stdout.trim();
  assert.equal(stdout, `${dir}\n`, 'one line on stdout');
  assert.deepEqual(
    entries.map((e) => e.names),
    Object.values(expectedNames),
  );
  for (const entry of entries) {
    assert.ok(posix.isAbsolute(entry.archive) && entry.archive.startsWith(`${dir}/`), entry.archive);
  }
  for (const [id, { names }] of images) assert.deepEqual(names, expectedNames[id], `the index names of ${id}`);
  const again = await run(buildScript, []);
  assert.equal(again.stdout, stdout);
  assert.equal(again.stderr, '', 'a cache hit builds nothing and says nothing');
});

test('every layer is owned by root, and only sticky directories are writable by other users', async () => {
  for (const [id, { layer }] of (await build()).images) {
    for (const entry of layer.values()) {
      assert.deepEqual([entry.uid, entry.gid], [0, 0], `${id}: ${entry.name}`);
      if ((entry.mode & 0o1000) === 0) assert.equal(entry.mode & 0o022, 0, `${id}: ${entry.name} is writable`);
    }
  }
});

test('the operator image is the Dockerfile runtime stage: config, Node version and /app', async (t) => {
  const operator = await image('operator');
  const dockerfile = parseDockerfile(await readFile(join(repo, 'Dockerfile'), 'utf8'));
  const { config, layer } = operator;
  assert.deepEqual(config.Entrypoint, dockerfile.entrypoint);
  assert.deepEqual(config.Cmd, dockerfile.cmd);
  assert.equal(config.User, dockerfile.user);
  assert.equal(config.WorkingDir, dockerfile.workdir);
  assert.deepEqual(
    Object.keys(config.ExposedPorts ?? {}),
    dockerfile.expose.map((p) => (p.includes('/') ? p : `${p}/tcp`)),
  );
  for (const env of dockerfile.env) assert.ok(config.Env?.includes(env), `ENV ${env}`);
  assert.match(envOf(config).PATH ?? '', /(^|:)\/usr\/local\/bin(:|$)/);

  // The node image's Node, under the same path and of the Dockerfile's version.
  const node = layer.get('usr/local/bin/node');
  assert.ok(node, 'no /usr/local/bin/node');
  const projectNode = join(repo, 'node_modules', 'node', 'bin', 'node');
  assert.equal(await sha256(contents(operator.archive, node)), await sha256(createReadStream(projectNode)));
  assert.equal((await run(projectNode, ['--version'])).stdout.trim(), `v${dockerfile.nodeVersion}`);

  for (const path of dockerfile.copied) assert.ok(layer.has(path.slice(1)), `COPY ... ${path}`);
  for (const file of ['package.json', 'package-lock.json']) {
    const entry = layer.get(`app/${file}`);
    assert.ok(entry);
    assert.equal(await text(operator.archive, entry), await readFile(join(repo, file), 'utf8'));
  }
  const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  for (const dependency of Object.keys(pkg.dependencies)) {
    const manifest = layer.get(`app/node_modules/${dependency}/package.json`);
    assert.ok(manifest, `production dependency ${dependency}`);
    const { version } = JSON.parse(await text(operator.archive, manifest)) as { version: string };
    assert.equal(version, pkg.dependencies[dependency], dependency);
  }
  for (const dependency of Object.keys(pkg.devDependencies)) {
    assert.ok(!layer.has(`app/node_modules/${dependency}`), `development dependency ${dependency} in the image`);
  }
  const script = posix.resolve(dockerfile.workdir, dockerfile.entrypoint.find((a) => a.endsWith('.js')) ?? '');
  assert.ok(layer.has(script.slice(1)), `the ENTRYPOINT's ${script}`);
  for (const crd of await readdir(join(repo, 'crds'))) assert.ok(layer.has(`app/dist/crds/${crd}`), crd);
  for (const removed of dockerfile.removed) {
    const prefix = removed.slice(1).replace(/\*$/, '');
    const found = [...layer.keys()].find((name) => (removed.endsWith('*') ? name.startsWith(prefix) : name === prefix));
    assert.equal(found, undefined, `the Dockerfile removes ${removed}`);
  }

  // As deploy/deployment.yaml runs it: uid 1000 on a read-only root. The bind mount is the read-only root.
  const root = join(await scratch(t), 'rootfs');
  await mkdir(root);
  await extractLayer(operator, root);
  await writeFile(join(root, 'app.yaml'), await readFile(join(repo, 'examples', 'basic.yaml')));
  const [uid = '', gid = ''] = (config.User ?? '').split(':');
  const rendered = await run(
    'unshare',
    [
      '--mount',
      '--propagation=private',
      '--',
      'sh',
      '-c',
      'root=$1; shift; mount --bind "$root" "$root" && mount -o remount,bind,ro "$root" && exec unshare "--root=$root" "$@"',
      'sh',
      root,
      `--wd=${config.WorkingDir}`,
      `--setuid=${uid}`,
      `--setgid=${gid}`,
      '--',
      ...(config.Entrypoint ?? []),
      'render',
      '-f',
      '/app.yaml',
      '-o',
      'json',
    ],
    { env: envOf(config), maxBuffer: 16 * 1024 * 1024 },
  );
  assert.ok(rendered.stdout.includes(`"image": "${findKasprVersion(defaultKasprVersion)?.image}"`), rendered.stdout);
});

test('the pause image runs upstream pause.c, as upstream does', async (t) => {
  const pause = await image('pause');
  assert.deepEqual(pause.config.Entrypoint, ['/pause']);
  assert.equal(pause.config.User, '65535:65535');
  const dir = await scratch(t);
  await extractLayer(pause, dir);
  assert.match((await run(join(dir, 'pause'), ['-v'])).stdout, /^pause\.c v3\.10/);
});

test('the Kaspr stand-in imports what pip installed on PYTHONPATH, reports it on GET /, and stops on SIGTERM', async (t) => {
  const python = await image('python');
  const root = await scratch(t);
  await extractLayer(python, root);
  const wheel = buildWheel('kaspr-demo-c', { version: '1.0' });
  await mkdir(join(root, 'wheels'));
  await writeFile(join(root, 'wheels', wheel.filename), wheel.bytes);
  const envDir = `/packages/envs/${createHash('sha256').update(wheel.filename).digest('hex').slice(0, 16)}`;
  // The image's own pip, offline, into the directory layout the operator's installer uses.
  await run('chroot', [
    root,
    '/usr/bin/python3',
    '-m',
    'pip',
    'install',
    '--no-index',
    '--no-deps',
    '--no-cache-dir',
    '--disable-pip-version-check',
    '--target',
    envDir,
    `/wheels/${wheel.filename}`,
  ]);
  // A distribution whose module raises on import: reported, and the app stays up.
  const brokenDir = '/packages/broken';
  await mkdir(join(root, brokenDir, 'kaspr_broken-1.0.dist-info'), { recursive: true });
  await writeFile(
    join(root, brokenDir, 'kaspr_broken-1.0.dist-info', 'METADATA'),
    'Metadata-Version: 2.1\nName: kaspr-broken\nVersion: 1.0\n',
  );
  await writeFile(join(root, brokenDir, 'kaspr_broken-1.0.dist-info', 'top_level.txt'), 'kaspr_broken\n');
  await writeFile(join(root, brokenDir, 'kaspr_broken.py'), "raise RuntimeError('broken on purpose')\n");

  const app = spawn('chroot', [root, ...(python.config.Entrypoint ?? [])], {
    env: envOf(python.config, { PYTHONPATH: `${envDir}:${brokenDir}`, K_WEB_PORT: '0' }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => app.on('close', resolve));
  t.after(() => {
    app.kill('SIGKILL');
  });
  const lines: string[] = [];
  // Read to the end, so the app's last lines never meet a closed pipe.
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: app.stdout }).on('line', (line) => {
      lines.push(line);
      const serving = /serving on 0\.0\.0\.0:(\d+)$/.exec(line);
      if (serving) resolve(Number(serving[1]));
    });
    app.on('exit', (code) => reject(new Error(`the app exited (${code}):\n${lines.join('\n')}`)));
  });
  assert.ok(lines.includes(`kaspr-standin: imported kaspr-demo-c==1.0 from ${envDir}`), lines.join('\n'));
  assert.ok(
    lines.some((l) =>
      l.startsWith(`kaspr-standin: FAILED to import kaspr-broken==1.0 from ${brokenDir}: RuntimeError`),
    ),
    lines.join('\n'),
  );

  for (const path of ['/', '/healthz']) {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    assert.equal(response.status, 200);
    const report = (await response.json()) as {
      distributions: {
        name: string;
        version: string;
        path: string;
        modules: { name: string; file: string }[];
        error: string | null;
      }[];
      imported: number;
      failed: number;
    };
    assert.deepEqual(report.distributions[0], {
      name: 'kaspr-demo-c',
      version: '1.0',
      path: envDir,
      modules: [{ name: 'kaspr_demo_c', file: `${envDir}/kaspr_demo_c/__init__.py` }],
      error: null,
    });
    assert.match(report.distributions[1]?.error ?? '', /^RuntimeError: broken on purpose$/);
    assert.deepEqual([report.imported, report.failed], [1, 1]);
  }

  const stopping = Date.now();
  app.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.ok(Date.now() - stopping < 3000, `SIGTERM took ${Date.now() - stopping} ms`);
  assert.equal(lines.at(-1), 'kaspr-standin: stopped');
});

test('the nopip image has python3 and its standard library, and no pip', async (t) => {
  const nopip = await image('nopip');
  const root = await scratch(t);
  await extractLayer(nopip, root);
  const probe = await run('chroot', [
    root,
    '/usr/bin/python3',
    '-c',
    'import importlib.util, json, ssl, sqlite3, subprocess; print(importlib.util.find_spec("pip"))',
  ]);
  assert.equal(probe.stdout, 'None\n');
  await assert.rejects(run('chroot', [root, '/usr/bin/python3', '-m', 'pip', '--version']), /No module named pip/);
});
