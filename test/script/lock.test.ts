// `kasprop lock` with the real pip against the local wheel index: the full transitive set, the digest of every file
// of each pinned version (recomputed here from the bytes the index serves), the same file on a second run, and an
// install of the lock that the installer hash-checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { main } from '../../src/cli/main.ts';
import { validateKasprApp } from '../../src/api/validation.ts';
import { lockedLines, type LockedPackage } from '../../src/packages/locked-packages.ts';
import { startWheelIndex, type WheelIndex } from '../support/wheel-index.ts';
import { buildWheel } from '../support/wheels.ts';
import { createSandbox, PYTHON, randomHash, resultOf, runInstaller } from './installer-harness.ts';

function manifest(indexUrl: string): string {
  return `# the app of the lock test: this comment stays
apiVersion: kaspr.io/v1alpha1
kind: KasprApp
metadata:
  name: locked
spec:
  bootstrapServers: kafka:9092
  pythonPackages:
    packages:
      - kaspr-demo-a>=1 # newest a, and the b it needs
      - Kaspr_Demo_C
    indexUrl: ${indexUrl}
`;
}

async function lock(file: string, env: NodeJS.ProcessEnv = {}, ...options: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (line: string) => out.push(line), err: (line: string) => err.push(line) };
  const code = await main(['lock', '-f', file, ...options], io, {
    PATH: process.env.PATH,
    KASPROP_PYTHON: PYTHON,
    ...env,
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** sha256 of what the index serves at each file link of the project page, for the given version. */
async function servedDigests(index: WheelIndex, project: string, version: string): Promise<string[]> {
  const page = await (await fetch(`${index.url}${project}/`)).text();
  const links = [...page.matchAll(/href="([^"#]+)#/g)]
    .map((m) => m[1] ?? '')
    .filter((href) => href.includes(`-${version}`));
  const digests = [];
  for (const href of links) {
    const bytes = Buffer.from(await (await fetch(new URL(href, index.url))).arrayBuffer());
    digests.push(createHash('sha256').update(bytes).digest('hex'));
  }
  return digests.sort();
}

async function tempFile(t: { after(fn: () => Promise<void>): void }, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kasprop-lock-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'app.yaml');
  await writeFile(file, text);
  return file;
}

test('kasprop lock writes the full transitive set with the digests of every file, the same twice, and it installs', async (t) => {
  // Two files of kaspr-demo-c 1.0 (a wheel and an sdist-named file): the lock must list both digests.
  const sdist = {
    ...buildWheel('kaspr-demo-c', { version: '1.0', payloadBytes: 8 }),
    filename: 'kaspr_demo_c-1.0.tar.gz',
  };
  const index = await startWheelIndex({ files: [sdist] });
  t.after(() => index.close());
  const file = await tempFile(t, manifest(index.url));

  const first = await lock(file);
  assert.equal(first.code, 0, first.err);
  const written = await readFile(file, 'utf8');
  assert.match(written, /^# the app of the lock test: this comment stays$/m);
  assert.match(written, /# newest a, and the b it needs/);
  const app = parse(written) as { spec: { pythonPackages: { packagesWithHashes: LockedPackage[] } } };
  const lockEntries = app.spec.pythonPackages.packagesWithHashes;
  assert.deepEqual(
    lockEntries.map((e) => `${e.name}==${e.version}`),
    ['kaspr-demo-a==2.0', 'kaspr-demo-b==2.0', 'kaspr-demo-c==1.0'],
  );
  for (const entry of lockEntries) {
    assert.ok(entry.hashes.every((h) => h.algorithm === 'sha256'));
    assert.deepEqual(
      entry.hashes.map((h) => h.digest),
      await servedDigests(index, entry.name, entry.version),
      `${entry.name}: the digests of every file the index serves for ${entry.version}`,
    );
  }
  assert.equal(lockEntries.find((e) => e.name === 'kaspr-demo-c')?.hashes.length, 2);
  const validated = validateKasprApp({
    ...app,
    spec: { ...app.spec, pythonPackages: { ...app.spec.pythonPackages, requireHashes: true } },
  });
  assert.ok(validated.ok, JSON.stringify(validated));

  const second = await lock(file);
  assert.equal(second.code, 0, second.err);
  assert.equal(await readFile(file, 'utf8'), written, 'a second run against the same index changes nothing');

  const patch = await lock(file, {}, '--patch');
  assert.equal(patch.code, 0, patch.err);
  assert.equal(await readFile(file, 'utf8'), written, '--patch leaves the file alone');
  assert.deepEqual((parse(patch.out) as typeof app).spec.pythonPackages.packagesWithHashes, lockEntries);

  // The lock as the operator hands it to the installer: installed, hash-checked, exactly the locked set.
  const sandbox = await createSandbox();
  t.after(() => sandbox.cleanup());
  const result = resultOf(
    await runInstaller(sandbox, {
      hash: randomHash(),
      requirements: ['kaspr-demo-a>=1', 'kaspr-demo-c'],
      locked: lockedLines(lockEntries),
      indexUrl: index.url,
    }),
  );
  assert.equal(result.state, 'Ready', result.error ?? '');
  assert.equal(result.hashVerified, true);
  assert.deepEqual(result.installed, ['kaspr-demo-a==2.0', 'kaspr-demo-b==2.0', 'kaspr-demo-c==1.0']);
});

test('kasprop lock sends the credentials from the environment to the index and writes them nowhere', async (t) => {
  const auth = { username: 'locker', password: 'lock-secret-42' };
  const index = await startWheelIndex({ auth });
  t.after(() => index.close());
  const file = await tempFile(t, manifest(index.url));
  const env = { KASPROP_INDEX_USERNAME: auth.username, KASPROP_INDEX_PASSWORD: auth.password };
  const locked = await lock(file, env);
  assert.equal(locked.code, 0, locked.err);
  const written = await readFile(file, 'utf8');
  assert.match(written, /kaspr-demo-b/);
  assert.ok(
    !written.includes(auth.password) && !locked.out.includes(auth.password) && !locked.err.includes(auth.password),
  );
  assert.ok(index.requests.length > 0 && index.requests.every((r) => r.authorized));

  const refused = await lock(file, { ...env, KASPROP_INDEX_PASSWORD: 'wrong-password-1' });
  assert.equal(refused.code, 1);
  assert.ok(!refused.err.includes('wrong-password-1'), refused.err);
});

test('kasprop lock refuses a VCS requirement and a missing project, naming them', async (t) => {
  const index = await startWheelIndex();
  t.after(() => index.close());
  const vcs = await tempFile(
    t,
    manifest(index.url).replace('- Kaspr_Demo_C', '- mypkg @ git+https://git.example.com/m.git@v1'),
  );
  const refused = await lock(vcs);
  assert.equal(refused.code, 1);
  assert.match(refused.err, /'mypkg @ git\+https:\/\/git\.example\.com\/m\.git@v1' is a URL or VCS requirement/);
  const missing = await tempFile(t, manifest(index.url).replace('- Kaspr_Demo_C', '- kaspr-demo-nothing'));
  const failed = await lock(missing);
  assert.equal(failed.code, 1);
  assert.match(failed.err, /pip could not resolve the packages: .*kaspr-demo-nothing/);
});
