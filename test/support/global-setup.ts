// Runs once in the test runner's main process, before and after every test file.
//
// When the selection includes integration tests, it starts one control plane for the whole run and hands it to the
// test files (separate processes) through the environment: KASPROP_TEST_KUBECONFIG and KASPROP_TEST_ROOT (the run's
// temp directory, where every process the tests start is registered). Runs without integration tests (a unit test
// file given on the command line) do not pay for it. At the end it stops the control plane and checks that nothing
// the tests started survives: survivors are killed and fail the run.
import { globSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from './controlplane.ts';
import { findSurvivors, keepTempEnv, killSurvivors, kubeconfigEnv, testRootEnv } from './processes.ts';

let run: { root: string; controlPlane: ControlPlane } | undefined;

export async function globalSetup(): Promise<void> {
  // With --test, the runner has no script: everything after the executable is a test file pattern.
  if (!selectsIntegrationTests(process.argv.slice(1))) return;
  const root = mkdtempSync(join(tmpdir(), 'kasprop-test-'));
  process.env[testRootEnv] = root;
  try {
    const controlPlane = await startControlPlane({ rootDir: join(root, 'controlplane') });
    run = { root, controlPlane };
    process.env[kubeconfigEnv] = controlPlane.kubeconfigPath;
  } catch (error) {
    // The runner does not call globalTeardown when globalSetup fails.
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}

export async function globalTeardown(): Promise<void> {
  // The runner may call this twice (again from its exit handler); the second call has nothing left to do.
  const current = run;
  run = undefined;
  if (!current) return;
  const { root, controlPlane } = current;
  await controlPlane.stop({ removeFiles: false });
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
