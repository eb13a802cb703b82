import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PythonPackagesSpec } from '../../src/api/types.ts';
import { validateKasprApp } from '../../src/api/validation.ts';
import { resolveApp } from '../../src/model/app-model.ts';
import { defaultOperatorSettings } from '../../src/model/operator-settings.ts';

/** The spec hash as the reconciler and `kasprop render` get it: validation, then the model. */
function packagesHash(pythonPackages: PythonPackagesSpec, image: string): string {
  const validation = validateKasprApp({
    apiVersion: 'kaspr.io/v1alpha1',
    kind: 'KasprApp',
    metadata: { name: 'orders', namespace: 'streams' },
    spec: { bootstrapServers: 'kafka:9092', image, pythonPackages },
  });
  assert.ok(validation.ok, JSON.stringify(validation));
  const hash = resolveApp(validation.valid, defaultOperatorSettings).packages?.hash;
  assert.ok(hash !== undefined);
  return hash;
}

const image = 'kasprio/kaspr:0.11.9';
const source: PythonPackagesSpec = {
  packages: ['requests==2.31.0', 'numpy~=1.26.0', 'pydantic[email]>=2,<3'],
  indexUrl: 'https://pypi.example.com/simple',
  extraIndexUrls: ['https://a.example.com/simple', 'https://b.example.com/simple'],
  trustedHosts: ['a.example.com'],
};

describe('packages spec hash', () => {
  // Golden values: a change here means every installed cache in every cluster is reinstalled after an upgrade.
  test('is stable across releases', () => {
    assert.equal(packagesHash({ packages: ['requests'] }, image), 'af499e9909c65996');
    assert.equal(packagesHash(source, image), 'abf6e83997267329');
  });

  test('is short lower-case hex', () => {
    assert.match(packagesHash(source, image), /^[0-9a-f]{16}$/);
  });

  test('ignores order and spelling of requirements, and order of extra indexes and trusted hosts', () => {
    const reordered: PythonPackagesSpec = {
      ...source,
      packages: ['Pydantic[EMAIL] >= 2, < 3', 'NumPy ~= 1.26.0', 'requests == 2.31.0'],
      extraIndexUrls: ['https://b.example.com/simple', 'https://a.example.com/simple'],
      trustedHosts: ['A.example.com'],
    };
    assert.equal(packagesHash(reordered, image), packagesHash(source, image));
  });

  test('ignores PEP 440 spellings of one version, as pip does', () => {
    assert.equal(
      packagesHash({ packages: ['foo>=1.0-RC1'] }, image),
      packagesHash({ packages: ['foo>=1.0rc1'] }, image),
    );
    assert.equal(
      packagesHash({ packages: ['foo==V1.0-1'] }, image),
      packagesHash({ packages: ['foo==1.0.post1'] }, image),
    );
  });

  test('installer: pip is the default and keeps the hash; uv and auto each have their own', () => {
    const pip = packagesHash(source, image);
    assert.equal(packagesHash({ ...source, installer: 'pip' }, image), pip);
    const uv = packagesHash({ ...source, installer: 'uv' }, image);
    const auto = packagesHash({ ...source, installer: 'auto' }, image);
    assert.equal(new Set([pip, uv, auto]).size, 3);
    // Golden: the pinned uv version is part of it, so a new one installs again.
    assert.equal(uv, 'cabb1e28c7ac3e9f');
  });

  test('ignores what does not change the installed result (retries, timeout, onFailure, resources)', () => {
    const withPolicy = {
      ...source,
      installPolicy: { retries: 9, timeout: 3600, onFailure: 'allow' as const },
      resources: { limits: { memory: '4Gi' } },
      cache: { size: '10Gi' },
    };
    assert.equal(packagesHash(withPolicy, image), packagesHash(source, image));
  });

  test('changes with a requirement, the index URL, an extra index, a trusted host or the image', () => {
    const base = packagesHash(source, image);
    const variants: PythonPackagesSpec[] = [
      { ...source, packages: ['requests==2.32.0', 'numpy~=1.26.0', 'pydantic[email]>=2,<3'] },
      { ...source, packages: ['requests==2.31.0', 'numpy~=1.26.0'] },
      { ...source, indexUrl: 'https://other.example.com/simple' },
      { ...source, indexUrl: undefined },
      { ...source, extraIndexUrls: ['https://a.example.com/simple'] },
      { ...source, trustedHosts: ['b.example.com'] },
    ];
    const hashes = new Set([
      base,
      ...variants.map((v) => packagesHash(v, image)),
      packagesHash(source, 'kasprio/kaspr:0.11.8'),
    ]);
    assert.equal(hashes.size, variants.length + 2);
  });

  test('covers the lock: its digests change the hash, their order, case and requireHashes do not', () => {
    const requests = { name: 'requests', version: '2.31.0', hashes: [sha256('a'), sha256('b')] };
    const urllib3 = { name: 'urllib3', version: '2.2.1', hashes: [sha256('c')] };
    const lock = [requests, urllib3];
    // Validation refuses a requirement the lock does not hold, so the unlocked spec here names only requests.
    const unlocked = { ...source, packages: ['requests==2.31.0'] };
    const locked = packagesHash({ ...unlocked, packagesWithHashes: lock }, image);
    assert.notEqual(locked, packagesHash(unlocked, image));
    // An empty lock is refused by validation (minItems), so a spec hashes with a lock or exactly as before it existed.
    const respelled = [
      { name: 'urllib3', version: '2.2.1', hashes: [{ algorithm: 'sha256' as const, digest: 'C'.repeat(64) }] },
      { name: 'Requests', version: '2.31.0', hashes: [sha256('b'), sha256('a'), sha256('a')] },
    ];
    // requireHashes is not part of the input at all: it only refuses specs without a lock.
    const guarded = { ...unlocked, packagesWithHashes: respelled, requireHashes: true };
    assert.equal(packagesHash(guarded, image), locked);
    const otherDigest = [{ ...requests, hashes: [sha256('a')] }, urllib3];
    const otherVersion = [{ ...requests, version: '2.31.1' }, urllib3];
    assert.notEqual(packagesHash({ ...unlocked, packagesWithHashes: otherDigest }, image), locked);
    assert.notEqual(packagesHash({ ...unlocked, packagesWithHashes: otherVersion }, image), locked);
  });

  test('covers the bundle: its source and offlineMode change the hash, the order of its fields does not', () => {
    const plain = packagesHash(source, image);
    const bundles: PythonPackagesSpec[] = [
      { ...source, bundleSource: { type: 'pvc', name: 'wheels' } },
      { ...source, bundleSource: { type: 'pvc', name: 'wheels' }, offlineMode: true },
      { ...source, bundleSource: { type: 'pvc', name: 'wheels', path: 'py311' } },
      { ...source, bundleSource: { type: 'pvc', name: 'wheels-2' } },
      { ...source, bundleSource: { type: 'configmap', name: 'wheels' } },
      { ...source, bundleSource: { type: 'image', reference: 'wheels:1' } },
    ];
    const hashes = new Set([plain, ...bundles.map((spec) => packagesHash(spec, image))]);
    assert.equal(hashes.size, bundles.length + 1);
    // offlineMode false is the default: the same hash as without it.
    assert.equal(packagesHash({ ...source, offlineMode: false }, image), plain);
    const reordered = { ...source, bundleSource: { path: 'py311', name: 'wheels', type: 'pvc' as const } };
    assert.equal(packagesHash(reordered, image), packagesHash(bundles[2] ?? source, image));
  });
});

function sha256(digit: string): { algorithm: 'sha256'; digest: string } {
  return { algorithm: 'sha256', digest: digit.repeat(64) };
}
