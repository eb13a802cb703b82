// What only the uv installer does: choosing it (installer: uv | auto), putting uv on the volume when the image has
// none (from the spec's index, hash-checked against the digests installer.py pins), its cache on the volume and how it
// is pruned, and what it reports about downloads. The contract it shares with pip runs in the other installer-* files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  hashSubPath,
  markerPath,
  toolsDirectory,
  uvCacheDirectory,
  UV_VERSION,
} from '../../src/packages/installer-contract.ts';
import { startWheelIndex } from '../support/wheel-index.ts';
import { fetchUv, pinnedUvDigests } from '../support/uv.ts';
import { buildProbeSdist } from './probe-sdist.ts';
import {
  callInstaller,
  createSandbox,
  PYTHON,
  randomHash,
  resultOf,
  runInstaller,
  sandboxWithIndex,
} from './installer-harness.ts';

test('the uv version the spec hash names is the one installer.py installs, and its digests are pinned', () => {
  assert.equal(callInstaller('OUTPUT = UV_VERSION'), UV_VERSION);
  assert.ok(pinnedUvDigests().length >= 10);
  assert.ok(pinnedUvDigests().includes(fetchUv().wheel.sha256), 'the wheel the tests use is one installer.py accepts');
});

test('auto: uv when the image has it, pip when it has not', async (t) => {
  const { index, sandbox } = await sandboxWithIndex(t);
  const settings = { installer: 'auto' as const, requirements: ['kaspr-demo-c'], indexUrl: index.url };
  const withUv = await runInstaller(sandbox, { ...settings, hash: randomHash() });
  assert.equal(resultOf(withUv).state, 'Ready');
  assert.match(withUv.stdout, /from http:\S+ with uv\n/);
  const withoutUv = await runInstaller(sandbox, { ...settings, hash: randomHash(), imageUv: false });
  assert.equal(resultOf(withoutUv).state, 'Ready');
  assert.match(withoutUv.stdout, /installer auto: the image has no uv, so pip installs/);
  assert.match(withoutUv.stdout, /with pip\n/);
});

test('uv with an image that has uv but no pip: installs', async (t) => {
  const { index, sandbox } = await sandboxWithIndex(t);
  const venv = join(sandbox.root, 'python-without-pip');
  execFileSync(PYTHON, ['-m', 'venv', '--without-pip', venv], { stdio: 'pipe' });
  const exit = await runInstaller(sandbox, {
    installer: 'uv',
    hash: randomHash(),
    requirements: ['kaspr-demo-a==1.0'],
    indexUrl: index.url,
    python: join(venv, 'bin', 'python3'),
  });
  assert.deepEqual(resultOf(exit).installed, ['kaspr-demo-a==1.0', 'kaspr-demo-b==2.0']);
});

test('uv without uv in the image: pip puts the pinned uv on the volume from the index, once, outside envs/', async (t) => {
  const uv = fetchUv();
  const index = await startWheelIndex({ files: [uv.wheel] });
  const sandbox = await createSandbox();
  t.after(async () => {
    await index.close();
    await sandbox.cleanup();
  });
  const settings = { installer: 'uv' as const, indexUrl: index.url, imageUv: false };
  const first = await runInstaller(sandbox, { ...settings, hash: randomHash(), requirements: ['kaspr-demo-c'] });
  const result = resultOf(first);
  assert.equal(result.state, 'Ready', result.error ?? first.stdout);
  assert.equal(result.attempts, 1, 'the packages took one attempt; putting uv there is not counted');
  assert.match(first.stdout, new RegExp(`installing uv ${UV_VERSION.replaceAll('.', '\\.')} into the volume`));
  assert.match(first.stdout, /with uv\n/);
  assert.equal(index.requests.filter((r) => r.path === `/files/${uv.wheel.filename}`).length, 1);
  assert.deepEqual(readdirSync(toolsDirectory(sandbox.volume)), [`uv-${UV_VERSION}`]);
  // The main container mounts envs/<hash> only: uv and its cache are beside it, not in it.
  const mounted = join(sandbox.volume, hashSubPath(result.hash));
  assert.deepEqual(readdirSync(mounted).sort(), ['kaspr_demo_c', 'kaspr_demo_c-1.0.dist-info']);
  assert.ok(readdirSync(uvCacheDirectory(sandbox.volume)).length > 0, 'uv keeps its cache on the volume');

  const second = await runInstaller(sandbox, { ...settings, hash: randomHash(), requirements: ['kaspr-demo-a'] });
  assert.equal(resultOf(second).state, 'Ready');
  assert.doesNotMatch(second.stdout, /installing uv/);
  assert.equal(index.pageRequests('uv'), 1, 'uv came from the index once');
});

test('uv without uv in the image, and an index serving other bytes as uv: hash_mismatch, nothing installed', async (t) => {
  const uv = fetchUv();
  const forged = { ...uv.wheel, bytes: Buffer.concat([uv.wheel.bytes, Buffer.from('x')]) };
  const { createHash } = await import('node:crypto');
  const index = await startWheelIndex({
    files: [{ ...forged, sha256: createHash('sha256').update(forged.bytes).digest('hex') }],
  });
  const sandbox = await createSandbox();
  t.after(async () => {
    await index.close();
    await sandbox.cleanup();
  });
  const hash = randomHash();
  const exit = await runInstaller(sandbox, {
    installer: 'uv',
    hash,
    requirements: ['kaspr-demo-c'],
    indexUrl: index.url,
    imageUv: false,
    retries: 2,
  });
  const result = resultOf(exit);
  assert.equal(result.errorType, 'hash_mismatch');
  assert.match(result.error ?? '', new RegExp(`^installing uv ${UV_VERSION.replaceAll('.', '\\.')} failed: `));
  assert.deepEqual(readdirSync(toolsDirectory(sandbox.volume)), []);
  assert.equal(existsSync(markerPath(sandbox.volume, hash)), false);
});

test('uv reports what it downloaded: against an index without cache headers it gets every file again', async (t) => {
  // What issue 16 measured on the public registry path: no Cache-Control, no ETag. uv revalidates each cached file
  // and receives it whole; only an index that answers revalidations with 304 (or caching headers) saves the download.
  for (const cacheHeaders of [false, true]) {
    const index = await startWheelIndex({ cacheHeaders });
    const sandbox = await createSandbox();
    t.after(async () => {
      await index.close();
      await sandbox.cleanup();
    });
    const settings = { installer: 'uv' as const, indexUrl: index.url };
    const first = await runInstaller(sandbox, { ...settings, hash: randomHash(), requirements: ['kaspr-demo-a==1.0'] });
    assert.equal(resultOf(first).state, 'Ready');
    const hash = randomHash();
    const second = await runInstaller(sandbox, {
      ...settings,
      hash,
      requirements: ['kaspr-demo-a==1.0', 'kaspr-demo-c'],
    });
    assert.equal(resultOf(second).state, 'Ready');
    const marker = JSON.parse(readFileSync(markerPath(sandbox.volume, hash), 'utf8')) as Record<string, unknown>;
    const expected = cacheHeaders ? { fromStore: 2, downloaded: 1 } : { fromStore: 0, downloaded: 3 };
    assert.deepEqual(
      { fromStore: marker.fromStore, downloaded: marker.downloaded },
      expected,
      `cacheHeaders ${String(cacheHeaders)}`,
    );
    assert.match(
      second.stdout,
      new RegExp(
        `installed 3 distribution\\(s\\) in [0-9.]+s \\(${String(expected.fromStore)} from the cache, ${String(expected.downloaded)} downloaded\\)`,
      ),
    );
  }
});

test("uv's cache is pruned whole archives at a time, oldest first, never leaving an archive in part", () => {
  const removed = callInstaller(
    `
import os, tempfile
root = tempfile.mkdtemp()
def put(path, size, when):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as handle:
        handle.write(b"x" * size)
    os.utime(full, (when, when))
put("archive-v0/old/pkg/a.py", 600, 1000)
put("archive-v0/old/pkg/b.py", 600, 1000)
put("archive-v0/new/pkg/a.py", 600, 3000)
put("simple-v27/index/x/pkg.rkyv", 100, 2000)
freed = prune_uv_cache(root, 1000)
left = sorted(os.path.relpath(os.path.join(d, n), root) for d, _, names in os.walk(root) for n in names)
OUTPUT = [freed, left]
`,
  );
  assert.deepEqual(removed, [1300, ['archive-v0/new/pkg/a.py']]);
});

test('uv with credentials installs wheels only: a source distribution is refused and its build never runs', async (t) => {
  const index = await startWheelIndex({
    auth: { username: 'kaspr-reader', password: 'S3cr3t-P4ssw0rd' },
    files: [buildProbeSdist()],
  });
  const sandbox = await createSandbox();
  t.after(async () => {
    await index.close();
    await sandbox.cleanup();
  });
  const report = join(sandbox.root, 'probe-report.jsonl');
  const exit = await runInstaller(sandbox, {
    installer: 'uv',
    hash: randomHash(),
    requirements: ['kcase-probe==1.0'],
    indexUrl: index.url,
    username: 'kaspr-reader',
    password: 'S3cr3t-P4ssw0rd',
    extraEnv: { KCASE_PROBE_REPORT: report },
  });
  const result = resultOf(exit);
  assert.equal(result.state, 'Failed');
  assert.equal(result.errorType, 'invalid_input', result.error ?? '');
  assert.match(result.error ?? '', /kcase-probe/);
  assert.equal(existsSync(report), false, 'no build backend ran');
});
