// The init container exactly as `kasprop render` builds it (command, args, env, and the installer ConfigMap its
// volume names), run as a local process the way a kubelet would run it, against the local wheel index; then the main
// container's rendered PYTHONPATH imports the packages. Only the mount paths and the termination-message path are
// mapped to temp directories (no container runtime).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { ConfigMap, Container, EnvVar } from 'kubernetes-types/core/v1.js';
import { validateKasprApp } from '../../src/api/validation.ts';
import { resolveApp } from '../../src/model/app-model.ts';
import { buildChildren } from '../../src/model/children.ts';
import { defaultOperatorSettings } from '../../src/model/operator-settings.ts';
import { INSTALLER_ENV } from '../../src/packages/installer-contract.ts';
import { parseInstallResult } from '../../src/packages/install-result.ts';
import { startWheelIndex } from '../support/wheel-index.ts';
import { createSandbox, PYTHON } from './installer-harness.ts';

const run = promisify(execFile);

test('the rendered install-packages container installs, and the rendered PYTHONPATH imports the packages', async (t) => {
  const index = await startWheelIndex();
  const sandbox = await createSandbox();
  t.after(async () => {
    await index.close();
    await sandbox.cleanup();
  });
  const validated = validateKasprApp({
    apiVersion: 'kaspr.io/v1alpha1',
    kind: 'KasprApp',
    metadata: { name: 'demo', namespace: 'ns' },
    spec: {
      bootstrapServers: 'kafka:9092',
      image: 'local-python',
      pythonPackages: {
        packages: ['kaspr-demo-a==2.0', 'kaspr_demo_c'],
        indexUrl: index.url,
        trustedHosts: [index.host],
      },
    },
  });
  assert.ok(validated.ok, JSON.stringify(validated));
  const rendered = buildChildren(resolveApp(validated.valid, defaultOperatorSettings));
  const statefulSet = rendered.find((child) => child.kind === 'StatefulSet') as StatefulSet;
  const podSpec = statefulSet.spec!.template.spec!;
  const init = podSpec.initContainers!.find((c) => c.name === 'install-packages')!;
  const main = podSpec.containers[0]!;

  // What the kubelet does for these fields: fieldRef metadata.name is the pod name; each volume is mounted at its
  // mountPath (here: a sandbox directory; a ConfigMap volume holds the rendered ConfigMap's keys as files), the
  // termination message file is per container.
  const mounts = init.volumeMounts!.map((mount) => {
    const volume = podSpec.volumes!.find((v) => v.name === mount.name)!;
    if (volume.persistentVolumeClaim) return { mountPath: mount.mountPath, directory: sandbox.volume };
    const configMap = rendered.find(
      (child) => child.kind === 'ConfigMap' && child.metadata?.name === volume.configMap?.name,
    ) as ConfigMap | undefined;
    assert.ok(configMap, `volume ${mount.name} names no rendered ConfigMap`);
    const directory = join(sandbox.tmp, mount.name);
    mkdirSync(directory);
    for (const [file, text] of Object.entries(configMap.data ?? {})) writeFileSync(join(directory, file), text);
    return { mountPath: mount.mountPath, directory };
  });
  const mapPath = (value: string): string => {
    const mount = mounts.find((m) => value === m.mountPath || value.startsWith(`${m.mountPath}/`));
    return mount === undefined ? value : mount.directory + value.slice(mount.mountPath.length);
  };
  const resolveEnv = (env: readonly EnvVar[], podName: string): Record<string, string> =>
    Object.fromEntries(
      env.map((e) => {
        if (e.value !== undefined) return [e.name, mapPath(e.value)];
        assert.equal(e.valueFrom?.fieldRef?.fieldPath, 'metadata.name', `unexpected env source for ${e.name}`);
        return [e.name, podName];
      }),
    );
  const runInit = async (podName: string, container: Container) => {
    const terminationLog = join(sandbox.tmp, `${podName}-termination-log`);
    const [command, ...commandArgs] = [...container.command!, ...container.args!].map(mapPath);
    const { stdout } = await run(command!, commandArgs, {
      env: {
        ...resolveEnv(container.env!, podName),
        [INSTALLER_ENV.terminationLog]: terminationLog,
        PATH: `${dirname(PYTHON)}:/usr/bin:/bin`,
        HOME: sandbox.home,
      },
      timeout: 120_000,
    });
    const parsed = parseInstallResult(readFileSync(terminationLog, 'utf8'));
    assert.ok(parsed.kind === 'result', stdout);
    return parsed.result;
  };

  const first = await runInit('demo-app-0', init);
  assert.equal(first.state, 'Ready');
  assert.equal(first.source, 'installed');
  assert.equal(first.installedBy, 'demo-app-0');
  assert.deepEqual(first.installed, ['kaspr-demo-a==2.0', 'kaspr-demo-b==2.0', 'kaspr-demo-c==1.0']);

  const second = await runInit('demo-app-1', init);
  assert.equal(second.source, 'cache');
  assert.equal(second.installedBy, 'demo-app-0');

  // The main container's view, as the kubelet builds it from its volumeMounts (subPath included): its own install, and
  // nothing else of the volume (no pip cache, markers, results, pod records or lock).
  const mainMounts = main.volumeMounts!.filter((m) => m.name === 'python-packages');
  assert.equal(mainMounts.length, 1);
  const mainMount = mainMounts[0]!;
  assert.equal(mainMount.readOnly, true);
  const visible = join(sandbox.volume, mainMount.subPath ?? '');
  const entries = readdirSync(visible);
  assert.ok(
    ['kaspr_demo_a', 'kaspr_demo_b', 'kaspr_demo_c'].every((name) => entries.includes(name)),
    String(entries),
  );
  assert.ok(
    !entries.some((name) => name.startsWith('.')),
    `no volume bookkeeping in the app's view: ${String(entries)}`,
  );
  const pythonPath = main.env!.find((e) => e.name === 'PYTHONPATH')!.value!;
  assert.equal(pythonPath, mainMount.mountPath, 'PYTHONPATH names the mounted install');
  const mapMain = (value: string): string => (value === mainMount.mountPath ? visible : value);
  const imported = await run(
    PYTHON,
    [
      '-c',
      'import kaspr_demo_a, kaspr_demo_b, kaspr_demo_c; print(kaspr_demo_a.__version__, kaspr_demo_b.__version__)',
    ],
    { env: { PYTHONPATH: mapMain(pythonPath), PATH: '/usr/bin:/bin', HOME: sandbox.home } },
  );
  assert.equal(imported.stdout.trim(), '2.0 2.0');
});
