// `kasprop bundle` with the real pip against the local wheel index: from a spec locked by `kasprop lock`, exactly one
// file per locked distribution, each digest recomputed here and found in the lock; then the real installer, offline,
// installs from that directory with the index gone. An unlocked spec is refused with what to run first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { main } from '../../src/cli/main.ts';
import { lockedLines, type LockedPackage } from '../../src/packages/locked-packages.ts';
import { startWheelIndex } from '../support/wheel-index.ts';
import { buildWheel } from '../support/wheels.ts';
import { createSandbox, PYTHON, randomHash, resultOf, runInstaller } from './installer-harness.ts';

function manifest(indexUrl: string): string {
  return `apiVersion: kaspr.io/v1alpha1
kind: KasprApp
metadata:
  name: offline
spec:
  bootstrapServers: kafka:9092
  pythonPackages:
    packages:
      - kaspr-demo-a>=1
      - kaspr-demo-c
    indexUrl: ${indexUrl}
`;
}

async function kasprop(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (line: string) => out.push(line), err: (line: string) => err.push(line) };
  const code = await main(args, io, { PATH: process.env.PATH, KASPROP_PYTHON: PYTHON });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kasprop-bundle-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('kasprop bundle writes exactly the locked files, digests as locked, and they install offline', async (t) => {
  // kaspr-demo-c 1.0 has two files on the index (a wheel and a source archive): the lock lists both, the bundle
  // needs one.
  const sdist = {
    ...buildWheel('kaspr-demo-c', { version: '1.0', payloadBytes: 8 }),
    filename: 'kaspr_demo_c-1.0.tar.gz',
  };
  const index = await startWheelIndex({ files: [sdist] });
  let indexOpen = true;
  t.after(async () => {
    if (indexOpen) await index.close();
  });
  const work = await tempDir(t);
  const file = join(work, 'app.yaml');
  await writeFile(file, manifest(index.url));

  const unlocked = await kasprop('bundle', '-f', file, '-o', join(work, 'wheels'));
  assert.equal(unlocked.code, 1);
  assert.equal(
    unlocked.err,
    `kasprop bundle: ${file}: offline has no packagesWithHashes: lock it first with \`kasprop lock -f ${file}\`, ` +
      'so that the bundle holds exactly the locked files',
  );

  const locked = await kasprop('lock', '-f', file);
  assert.equal(locked.code, 0, locked.err);
  const lock = (
    parse(await readFile(file, 'utf8')) as { spec: { pythonPackages: { packagesWithHashes: LockedPackage[] } } }
  ).spec.pythonPackages.packagesWithHashes;

  const wheels = join(work, 'wheels');
  const bundled = await kasprop('bundle', '-f', file, '-o', wheels);
  assert.equal(bundled.code, 0, bundled.err);
  const files = (await readdir(wheels)).sort();
  assert.deepEqual(files, [
    'kaspr_demo_a-2.0-py3-none-any.whl',
    'kaspr_demo_b-2.0-py3-none-any.whl',
    'kaspr_demo_c-1.0-py3-none-any.whl',
  ]);
  for (const [position, name] of files.entries()) {
    const digest = createHash('sha256')
      .update(await readFile(join(wheels, name)))
      .digest('hex');
    const entry = lock[position];
    assert.ok(entry !== undefined && entry.hashes.some((h) => h.digest === digest), `${name}: sha256:${digest}`);
  }
  assert.match(bundled.out, /^kasprop bundle: 3 files, [0-9.]+ KiB in /);
  assert.match(bundled.out, /^kubectl create configmap offline-bundle-[0-9a-f]{10} --from-file=\S+\/wheels$/m);
  assert.match(bundled.out, /^kubectl cp \S+\/wheels\/\. offline-bundle-[0-9a-f]{10}-load:\/bundle\/$/m);

  const again = await kasprop('bundle', '-f', file, '-o', wheels);
  assert.equal(again.code, 2);
  assert.match(again.err, /wheels is not empty/);

  // The bundle as an offline pod reads it, with the index gone.
  await index.close();
  indexOpen = false;
  const sandbox = await createSandbox();
  t.after(() => sandbox.cleanup());
  const result = resultOf(
    await runInstaller(sandbox, {
      hash: randomHash(),
      requirements: ['kaspr-demo-a>=1', 'kaspr-demo-c'],
      locked: lockedLines(lock),
      bundleDir: wheels,
      offline: true,
    }),
  );
  assert.equal(result.state, 'Ready', result.error ?? '');
  assert.equal(result.hashVerified, true);
  assert.equal(result.installSource, 'bundle');
  assert.deepEqual(result.installed, ['kaspr-demo-a==2.0', 'kaspr-demo-b==2.0', 'kaspr-demo-c==1.0']);
});

test('kasprop bundle: a file the index serves with other bytes than locked is refused, and nothing is printed', async (t) => {
  const index = await startWheelIndex();
  t.after(() => index.close());
  const work = await tempDir(t);
  const file = join(work, 'app.yaml');
  await writeFile(
    file,
    manifest(index.url) +
      `    packagesWithHashes:
      - name: kaspr-demo-c
        version: "1.0"
        hashes: [{algorithm: sha256, digest: "${'0'.repeat(64)}"}]
`,
  );
  await writeFile(file, (await readFile(file, 'utf8')).replace(/ {6}- kaspr-demo-a>=1\n/, ''));
  const bundled = await kasprop('bundle', '-f', file, '-o', join(work, 'wheels'));
  assert.equal(bundled.code, 1);
  assert.equal(bundled.out, '');
  assert.match(bundled.err, /pip could not download the locked files: .*DO NOT MATCH THE HASHES/);
});
