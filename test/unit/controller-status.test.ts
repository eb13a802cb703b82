import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerStatus, PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import type { InstallResult } from '../../src/packages/installer-contract.ts';
import { observeInstall, type InstallObservation } from '../../src/controller/install-observation.ts';
import { packagesStatus } from '../../src/controller/packages-status.ts';
import { InstallLedger } from '../../src/controller/install-ledger.ts';
import { packagesClaimTransition, packagesEvents } from '../../src/controller/events.ts';
import { validStatus } from '../../src/controller/app-status.ts';
import { setCondition } from '../../src/controller/conditions.ts';
import { claimUpdate, decidePackagesVolume } from '../../src/controller/packages-volume.ts';
import { resolveApp } from '../../src/model/app-model.ts';
import { defaultOperatorSettings } from '../../src/model/operator-settings.ts';
import { validateKasprApp } from '../../src/api/validation.ts';

const hash = 'aaaaaaaaaaaaaaaa';

function result(overrides: Partial<InstallResult> = {}): InstallResult {
  return {
    formatVersion: 1,
    state: 'Ready',
    source: 'installed',
    hash,
    installed: ['requests==2.31.0', 'urllib3==2.2.1'],
    installedTotal: 2,
    installedBy: 'orders-app-0',
    installTime: '2026-11-26T10:00:05Z',
    durationSeconds: 4.25,
    pythonVersion: '3.11.7',
    attempts: 1,
    errorType: null,
    error: null,
    warnings: [],
    hashVerified: false,
    installSource: 'index',
    ...overrides,
  };
}

function pod(name: string, init: Partial<ContainerStatus> | undefined, podHash = hash): Pod {
  return {
    metadata: { name, uid: `uid-${name}`, annotations: { 'kaspr.io/python-packages-hash': podHash } },
    status: init && {
      initContainerStatuses: [
        { name: 'install-packages', image: 'x', imageID: '', ready: false, restartCount: 0, ...init },
      ],
    },
  };
}

/** Each pod's report, as the reconciler reads them. */
const observe = (pods: readonly Pod[]): InstallObservation[] => pods.flatMap((p) => observeInstall(p) ?? []);

const terminated = (message: string, exitCode = 0, reason = exitCode === 0 ? 'Completed' : 'Error') => ({
  state: { terminated: { exitCode, reason, message, finishedAt: '2026-11-26T10:00:06Z' } },
});

describe('install observation from pod status', () => {
  test('a termination message with a result', () => {
    assert.deepEqual(observeInstall(pod('p0', terminated(JSON.stringify(result())))), {
      kind: 'result',
      pod: 'p0',
      uid: 'uid-p0',
      hash,
      result: result(),
    });
  });

  test('each report is tagged with its pod spec hash; pods without packages report nothing', () => {
    const other = observeInstall(pod('p0', terminated(JSON.stringify(result())), 'bbbbbbbbbbbbbbbb'));
    assert.ok(other);
    assert.equal(other.hash, 'bbbbbbbbbbbbbbbb');
    assert.equal(observeInstall({ metadata: { name: 'plain' } }), undefined);
    // The status of one hash ignores the reports of another (an old revision's pods).
    assert.equal(
      packagesStatus({ hash, warnings: [], cacheMode: 'shared', observations: [other] }).state,
      'Installing',
    );
  });

  test('a missing Secret (CreateContainerConfigError) is a configuration failure, not Installing forever', () => {
    const observation = observeInstall(
      pod('p0', { state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "pypi" not found' } } }),
    );
    assert.deepEqual(observation, {
      kind: 'failed',
      pod: 'p0',
      uid: 'uid-p0',
      hash,
      errorType: 'configuration',
      error: 'secret "pypi" not found',
      occurrence: 'uid-p0/configuration',
    });
  });

  test('CrashLoopBackOff reports the last failed run', () => {
    const failed = result({
      state: 'Failed',
      errorType: 'package_not_found',
      error: 'No matching distribution found for nope',
      installed: [],
      installedTotal: 0,
    });
    const observation = observeInstall(
      pod('p0', {
        state: { waiting: { reason: 'CrashLoopBackOff' } },
        lastState: { terminated: { exitCode: 1, reason: 'Error', message: JSON.stringify(failed) } },
        restartCount: 2,
      }),
    );
    assert.deepEqual(observation, { kind: 'result', pod: 'p0', uid: 'uid-p0', hash, result: failed });
  });

  test('an OOM kill with only a log tail', () => {
    const observation = observeInstall(pod('p0', terminated('Collecting numpy\nBuilding wheel', 137, 'OOMKilled')));
    assert.ok(observation?.kind === 'failed');
    assert.equal(observation.errorType, 'out_of_memory');
    assert.equal(observation.error, 'install-packages was killed for exceeding its memory limit: Building wheel');
  });

  test('running, or not started yet, is installing', () => {
    assert.deepEqual(observeInstall(pod('p0', { state: { running: {} } })), {
      kind: 'installing',
      pod: 'p0',
      uid: 'uid-p0',
      hash,
    });
    assert.deepEqual(observeInstall(pod('p1', undefined)), { kind: 'installing', pod: 'p1', uid: 'uid-p1', hash });
  });
});

describe('status.pythonPackages', () => {
  const base = { hash, warnings: [] };

  test('Installing while no pod has a result, then Ready with what was installed', () => {
    assert.deepEqual(
      packagesStatus({ ...base, cacheMode: 'shared', observations: observe([pod('p0', { state: { running: {} } })]) }),
      {
        hash,
        cacheMode: 'shared',
        state: 'Installing',
        installed: [],
        warnings: [],
      },
    );
    const cached = result({ source: 'cache' });
    assert.deepEqual(
      packagesStatus({
        ...base,
        cacheMode: 'shared',
        observations: observe([
          pod('p0', terminated(JSON.stringify(result()))),
          pod('p1', terminated(JSON.stringify(cached))),
        ]),
      }),
      {
        hash,
        cacheMode: 'shared',
        state: 'Ready',
        installed: ['requests==2.31.0', 'urllib3==2.2.1'],
        installedTotal: 2,
        lastInstallTime: '2026-11-26T10:00:05Z',
        installDuration: '4.3s',
        installedBy: 'orders-app-0',
        hashVerified: false,
        installSource: 'index',
        warnings: [],
      },
    );
  });

  test('a hash-checked install says so; a result of an installer older than the lock reads as not verified', () => {
    const verified = result({ hashVerified: true });
    const status = packagesStatus({
      ...base,
      cacheMode: 'shared',
      observations: observe([pod('p0', terminated(JSON.stringify(verified)))]),
    });
    assert.equal(status.hashVerified, true);
    assert.equal(status.installSource, 'index');
    const { hashVerified: _absent, ...older } = result();
    const parsed = observe([pod('p0', terminated(JSON.stringify(older)))]);
    assert.equal(packagesStatus({ ...base, cacheMode: 'shared', observations: parsed }).hashVerified, false);
  });

  test('Ready says how many distributions came from the store and how many were downloaded, when the result says', () => {
    const status = (overrides: Partial<InstallResult>) =>
      packagesStatus({
        ...base,
        cacheMode: 'shared',
        observations: observe([pod('p0', terminated(JSON.stringify(result(overrides))))]),
      });
    const counted = status({ fromStore: 2, downloaded: 1 });
    assert.equal(counted.fromStore, 2);
    assert.equal(counted.downloaded, 1);
    const older = status({});
    assert.equal('fromStore' in older, false, 'an installer from before the store reports no counts');
    assert.equal('downloaded' in older, false);
  });

  test('Failed with the error type and error', () => {
    const failed = result({
      state: 'Failed',
      errorType: 'package_not_found',
      error: 'no such project',
      installed: [],
      installedTotal: 0,
    });
    const status = packagesStatus({
      ...base,
      cacheMode: 'shared',
      observations: observe([pod('p0', terminated(JSON.stringify(failed), 1))]),
    });
    assert.equal(status.state, 'Failed');
    assert.equal(status.errorType, 'package_not_found');
    assert.equal(status.error, 'no such project');
  });

  test('a shared cache stays Ready for its hash while pods come and go', () => {
    const ready = packagesStatus({
      ...base,
      cacheMode: 'shared',
      observations: observe([pod('p0', terminated(JSON.stringify(result())))]),
    });
    assert.deepEqual(
      packagesStatus({ ...base, cacheMode: 'shared', observations: observe([]), previous: ready }),
      ready,
    );
    assert.equal(
      packagesStatus({
        ...base,
        hash: 'cccccccccccccccc',
        cacheMode: 'shared',
        observations: observe([]),
        previous: ready,
      }).state,
      'Installing',
    );
  });

  test('per-pod volumes: Ready once a pod has installed the spec, while new pods install; a failing pod fails it', () => {
    const installing = [pod('p0', terminated(JSON.stringify(result()))), pod('p1', { state: { running: {} } })];
    assert.equal(packagesStatus({ ...base, cacheMode: 'emptyDir', observations: observe(installing) }).state, 'Ready');
    const failing = [
      pod('p0', terminated(JSON.stringify(result()))),
      pod('p1', terminated('Killed', 137, 'OOMKilled')),
    ];
    assert.equal(packagesStatus({ ...base, cacheMode: 'emptyDir', observations: observe(failing) }).state, 'Failed');
  });

  test('a failed install stays Failed while the kubelet retries it (no flapping to Installing)', () => {
    const failed = result({
      state: 'Failed',
      errorType: 'network',
      error: 'index unreachable',
      installed: [],
      installedTotal: 0,
    });
    const retrying = pod('p0', {
      state: { running: {} },
      lastState: { terminated: { exitCode: 1, reason: 'Error', message: JSON.stringify(failed) } },
      restartCount: 1,
    });
    const status = packagesStatus({ ...base, cacheMode: 'shared', observations: observe([retrying]) });
    assert.equal(status.state, 'Failed');
    assert.equal(status.errorType, 'network');
  });

  test('a truncated installed list is said in the warnings', () => {
    const status = packagesStatus({
      ...base,
      cacheMode: 'shared',
      observations: observe([pod('p0', terminated(JSON.stringify(result({ installedTotal: 300 }))))]),
    });
    assert.deepEqual(status.warnings, ['installed lists 2 of 300 distributions (the result must fit in 4 KiB)']);
  });
});

describe('install accounting', () => {
  test('each install is counted once however often it is observed; cache hits are not installs', () => {
    const ledger = new InstallLedger();
    const observations = [
      observeInstall(pod('p0', terminated(JSON.stringify(result()))))!,
      observeInstall(pod('p1', terminated(JSON.stringify(result({ source: 'cache' })))))!,
    ];
    const first = ledger.record('ns/orders', observations, undefined);
    assert.deepEqual(first, {
      installs: [{ result: 'success', durationSeconds: 4.25 }],
      counted: ['uid-p0/2026-11-26T10:00:05Z'],
    });
    // The status write has not happened yet: nothing is counted again, and the record still asks to be written.
    assert.deepEqual(ledger.record('ns/orders', observations, undefined), { installs: [], counted: first.counted });
    assert.deepEqual(ledger.record('ns/orders', observations, first.counted), { installs: [], counted: first.counted });
    const failure = observeInstall(
      pod('p2', { state: { waiting: { reason: 'CreateContainerConfigError', message: 'x' } } }),
    )!;
    assert.deepEqual(ledger.record('ns/orders', [failure], undefined), {
      installs: [{ result: 'failure', errorType: 'configuration' }],
      counted: ['uid-p2/configuration'],
    });
    assert.deepEqual(ledger.record('ns/orders', [failure], ['uid-p2/configuration']).installs, []);
  });

  test('a new leader counts what the status does not record, and nothing it records', () => {
    const installed = observeInstall(pod('p0', terminated(JSON.stringify(result()))))!;
    // Finished while no operator ran: the status (written before) records nothing of it.
    const next = new InstallLedger().record('ns/orders', [installed], undefined);
    assert.deepEqual(next.installs, [{ result: 'success', durationSeconds: 4.25 }]);
    // The leader after it (or the same operator restarted) reads the record from the status.
    assert.deepEqual(new InstallLedger().record('ns/orders', [installed], next.counted), {
      installs: [],
      counted: next.counted,
    });
  });

  test('the record keeps the installs of pods that exist, and is pruned only when an install is added', () => {
    const p1 = observeInstall(pod('p1', terminated(JSON.stringify(result({ installTime: '2026-11-26T10:01:00Z' })))))!;
    const recorded = ['uid-p0/2026-11-26T10:00:05Z'];
    // p0 is gone: no write for that alone.
    assert.deepEqual(new InstallLedger().record('ns/orders', [], recorded), { installs: [], counted: recorded });
    assert.deepEqual(new InstallLedger().record('ns/orders', [p1], recorded).counted, ['uid-p1/2026-11-26T10:01:00Z']);
  });
});

describe('events and conditions', () => {
  test('events on transitions only', () => {
    const installing = { pythonPackages: { hash, state: 'Installing' as const } };
    const ready = {
      pythonPackages: {
        hash,
        state: 'Ready' as const,
        installed: ['a==1'],
        installedBy: 'p0',
        installDuration: '1.0s',
      },
    };
    assert.deepEqual(packagesEvents(undefined, installing), [
      { type: 'Normal', reason: 'PackagesInstalling', message: `installing packages for spec hash ${hash}` },
    ]);
    assert.deepEqual(packagesEvents(installing, ready), [
      {
        type: 'Normal',
        reason: 'PackagesInstalled',
        message: `1 distribution for spec hash ${hash} installed by p0 in 1.0s`,
      },
    ]);
    assert.deepEqual(packagesEvents(ready, ready), []);
  });

  test('ClaimCreated and ClaimDeleted derive from the claim against status.packagesClaim, once each', () => {
    const claim = (uid: string, created = '2026-01-01T00:00:05Z', deleting = false): PersistentVolumeClaim => ({
      metadata: {
        name: 'app-packages',
        uid,
        creationTimestamp: created,
        ...(deleting && { deletionTimestamp: '2026-01-01T00:10:00Z' }),
      },
    });
    const input = { name: 'app-packages', wanted: true, appCreated: '2026-01-01T00:00:00Z' };
    const reasons = (t: ReturnType<typeof packagesClaimTransition>) => t.events.map((e) => e.reason);

    // Created by this reconcile, not in the cache yet: a record without uid, no event.
    const first = packagesClaimTransition({ ...input, previous: {}, live: undefined });
    assert.deepEqual(first, { record: { name: 'app-packages' }, events: [] });
    // Seen by any later reconcile, also one after a lost answer or a restart: ClaimCreated until the status says so.
    const seen = packagesClaimTransition({ ...input, previous: { packagesClaim: first.record }, live: claim('u1') });
    assert.deepEqual(seen.record, { name: 'app-packages', uid: 'u1' });
    assert.deepEqual(seen.events, [
      { type: 'Normal', reason: 'ClaimCreated', message: 'python packages claim app-packages created' },
    ]);
    const recorded = { packagesClaim: seen.record };
    assert.deepEqual(reasons(packagesClaimTransition({ ...input, previous: recorded, live: claim('u1') })), []);

    // Deleted (or being deleted): ClaimDeleted once; a wanted claim is recorded as pending again, then recreated.
    for (const live of [undefined, claim('u1', undefined, true)]) {
      const gone = packagesClaimTransition({ ...input, previous: recorded, live });
      assert.deepEqual(reasons(gone), ['ClaimDeleted']);
      assert.deepEqual(gone.record, { name: 'app-packages' });
      assert.deepEqual(
        reasons(packagesClaimTransition({ ...input, previous: { packagesClaim: gone.record }, live })),
        [],
      );
    }
    const recreated = packagesClaimTransition({
      ...input,
      previous: { packagesClaim: { name: 'app-packages' } },
      live: claim('u2'),
    });
    assert.deepEqual(reasons(recreated), ['ClaimCreated']);
    const unwanted = packagesClaimTransition({ ...input, wanted: false, previous: recorded, live: undefined });
    assert.deepEqual(unwanted, {
      record: undefined,
      events: [{ type: 'Normal', reason: 'ClaimDeleted', message: 'python packages claim app-packages deleted' }],
    });

    // Not created for this app: a claim older than it, or one a status from before this field already used.
    assert.deepEqual(
      reasons(packagesClaimTransition({ ...input, previous: {}, live: claim('u3', '2025-12-31T00:00:00Z') })),
      [],
    );
    const olderOperator = { pythonPackages: { hash, state: 'Ready' as const } };
    const upgraded = packagesClaimTransition({ ...input, previous: olderOperator, live: claim('u1') });
    assert.deepEqual(upgraded, { record: { name: 'app-packages', uid: 'u1' }, events: [] });
  });

  test('the condition and the event count every installed distribution, also when the list is cut short', () => {
    const validated = validateKasprApp({
      apiVersion: 'kaspr.io/v1alpha1',
      kind: 'KasprApp',
      metadata: { name: 'orders', namespace: 'ns', generation: 1 },
      spec: { bootstrapServers: 'k:9092', pythonPackages: { packages: ['requests'] } },
    });
    assert.ok(validated.ok);
    const model = resolveApp(validated.valid, defaultOperatorSettings);
    const statusWith = (installed: Partial<InstallResult>) =>
      validStatus({
        app: validated.valid.app,
        now: '2026-11-26T10:00:10Z',
        model,
        statefulSet: undefined,
        observations: observe([
          pod(
            'orders-app-0',
            terminated(JSON.stringify(result({ hash: model.packages!.hash, ...installed }))),
            model.packages!.hash,
          ),
        ]),
        cacheMode: 'shared',
        packagesWarnings: [],
      });
    const packagesCondition = (status: ReturnType<typeof statusWith>) =>
      status.conditions?.find((c) => c.type === 'PythonPackagesReady');

    const cutShort = statusWith({ installedTotal: 300 });
    const packages = cutShort.pythonPackages;
    assert.ok(packages);
    assert.equal(packages.installed?.length, 2);
    assert.equal(packages.installedTotal, 300);
    assert.deepEqual(packages.warnings, ['installed lists 2 of 300 distributions (the result must fit in 4 KiB)']);
    assert.equal(packagesCondition(cutShort)?.message, '300 distributions installed by orders-app-0');
    assert.deepEqual(
      packagesEvents(undefined, cutShort).map((e) => e.message),
      [`300 distributions for spec hash ${model.packages!.hash} installed by orders-app-0 in 4.3s`],
    );

    const one = statusWith({ installed: ['requests==2.31.0'], installedTotal: 1 });
    assert.equal(packagesCondition(one)?.message, '1 distribution installed by orders-app-0');
  });

  test('lastTransitionTime moves only when the condition status changes', () => {
    const first = setCondition([], { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, 't1', 1);
    const same = setCondition(first, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, 't2', 2);
    assert.equal(same[0]?.lastTransitionTime, 't1');
    const flipped = setCondition(same, { type: 'Ready', status: 'True', reason: 'C', message: 'c' }, 't3', 3);
    assert.equal(flipped[0]?.lastTransitionTime, 't3');
  });
});

describe('packages volume and claim lifecycle', () => {
  const validated = validateKasprApp({
    apiVersion: 'kaspr.io/v1alpha1',
    kind: 'KasprApp',
    metadata: { name: 'orders', namespace: 'ns' },
    spec: { bootstrapServers: 'k:9092', pythonPackages: { packages: ['requests'] } },
  });
  assert.ok(validated.ok);
  const plan = resolveApp(validated.valid, defaultOperatorSettings).packages!;
  const claim = (phase: string, size = '256Mi') => ({
    metadata: { name: 'orders-app-python-packages', uid: 'c1' },
    spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: size } }, storageClassName: 'standard' },
    status: { phase },
  });

  test('a pending claim is waited for; a ProvisioningFailed claim falls back to emptyDir with the cause', () => {
    assert.deepEqual(decidePackagesVolume(plan, claim('Pending'), []), {
      source: 'claim',
      cacheMode: 'shared',
      warnings: [],
    });
    const event = {
      metadata: { name: 'e1' },
      involvedObject: { uid: 'c1' },
      reason: 'ProvisioningFailed',
      message: 'access mode ReadWriteMany is not supported',
      lastTimestamp: '2026-11-26T10:00:00Z',
    };
    assert.deepEqual(decidePackagesVolume(plan, claim('Pending'), [event]), {
      source: 'emptyDir',
      cacheMode: 'emptyDir',
      warnings: [
        'the packages claim orders-app-python-packages cannot be provisioned (access mode ReadWriteMany is not supported); each pod installs into its own emptyDir until the claim binds',
      ],
    });
    assert.equal(decidePackagesVolume(plan, claim('Bound'), [event]).source, 'claim');
  });

  test('a claim grows but never shrinks', () => {
    const desired: PersistentVolumeClaim = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'x' },
      spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '128Mi' } } },
    };
    const shrink = claimUpdate(desired, claim('Bound', '1Gi'));
    assert.equal(shrink.claim.spec?.resources?.requests?.storage, '1Gi');
    assert.deepEqual(shrink.warnings, [
      "cache.size 128Mi is smaller than the claim's 1Gi; a claim cannot shrink, keeping 1Gi",
    ]);
    const grow = claimUpdate(
      { ...desired, spec: { ...desired.spec, resources: { requests: { storage: '2Gi' } } } },
      claim('Bound', '1Gi'),
    );
    assert.equal(grow.claim.spec?.resources?.requests?.storage, '2Gi');
    assert.deepEqual(grow.warnings, []);
  });
});
