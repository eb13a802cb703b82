// Runs once in the test runner's main process, before and after every test file.
//
// When the selection includes integration tests, it starts the run's cluster and hands it to the test files
// (separate processes) through the environment: KASPROP_TEST_KUBECONFIG and KASPROP_TEST_ROOT (the run's temp
// directory, where every process the tests start is registered). With KASPROP_TEST_PODS=node (set by
// ./run-tests.ts, which also put the runner in a private network namespace) that cluster has a real node, and a
// second control plane without one (KASPROP_TEST_SIMULATOR_KUBECONFIG) serves the few tests that need the pod
// simulator. Runs without integration tests (a unit test file given on the command line) do not pay for it. At the
// end it stops everything and checks that nothing the tests started survives: survivors are killed and fail the run.
import { globSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from './controlplane.ts';
import { imagesDirEnv, loadImages, sandboxImage } from './images.ts';
import {
  findSurvivors,
  keepTempEnv,
  killSurvivors,
  kubeconfigEnv,
  podsEnv,
  simulatorKubeconfigEnv,
  testRootEnv,
} from './processes.ts';

let run: { root: string; clusters: ControlPlane[] } | undefined;

export async function globalSetup(): Promise<void> {
  // With --test, the runner has no script: everything after the executable is a test file pattern.
  if (!selectsIntegrationTests(process.argv.slice(1).filter((arg) => !arg.startsWith('--')))) return;
  const root = mkdtempSync(join(tmpdir(), 'kasprop-test-'));
  process.env[testRootEnv] = root;
  const clusters: ControlPlane[] = [];
  try {
    if (process.env[podsEnv] === 'node') {
      const imagesDir = process.env[imagesDirEnv];
      if (imagesDir === undefined) throw new Error(`${podsEnv}=node needs ${imagesDirEnv} (run through run-tests.ts)`);
      const node = { images: loadImages(imagesDir), sandboxImage };
      const [withNode, plain] = await Promise.allSettled([
        startControlPlane({ rootDir: join(root, 'cluster'), node }),
        startControlPlane({ rootDir: join(root, 'simulator-controlplane') }),
      ]);
      for (const started of [withNode, plain]) if (started.status === 'fulfilled') clusters.push(started.value);
      if (withNode.status === 'rejected') throw withNode.reason;
      if (plain.status === 'rejected') throw plain.reason;
      process.env[kubeconfigEnv] = withNode.value.kubeconfigPath;
      process.env[simulatorKubeconfigEnv] = plain.value.kubeconfigPath;
    } else {
      const controlPlane = await startControlPlane({ rootDir: join(root, 'controlplane') });
      clusters.push(controlPlane);
      process.env[kubeconfigEnv] = controlPlane.kubeconfigPath;
      process.env[simulatorKubeconfigEnv] = controlPlane.kubeconfigPath;
    }
    run = { root, clusters };
  } catch (error) {
    // The runner does not call globalTeardown when globalSetup fails.
    for (const cluster of clusters) await cluster.stop({ removeFiles: false });
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

export async function globalTeardown(): Promise<void> {
  // The runner may call this twice (again from its exit handler); the second call has nothing left to do.
  const current = run;
  run = undefined;
  if (!current) return;
  const { root, clusters } = current;
  for (const cluster of clusters) await cluster.stop({ removeFiles: false });
  const survivors = findSurvivors(root);
  if (survivors.length > 0) {
    await killSurvivors(survivors);
    // Not thrown: the runner would report a thrown error poorly and call this again; a failed exit code is enough.
    process.exitCode = 1;
    process.stderr.write(
      `\nFAIL: ${survivors.length} process(es) started by the tests outlived them (now killed):\n` +
        survivors.map(({ pid, why, command }) => `  pid ${pid} (${why}): ${command}\n`).join(''),
    );
  }
  if (process.env[keepTempEnv] === '1') process.stderr.write(`kept the test run's files in ${root}\n`);
  else rmSync(root, { recursive: true, force: true });
}
/** Whether any of the given patterns (node --test's defaults when none) selects a file under test/integration/. */
export function selectsIntegrationTests(patterns: readonly string[]): boolean {
  if (patterns.length === 0) return true;
  return patterns.some(
    (pattern) =>
      pattern.includes('integration') ||
      globSync(pattern, { exclude: ['node_modules/**'] }).some((file) => file.split('/').includes('integration')),
  );
}
