// `npm test` and `npm run test:integration`: node's test runner, on a real node where the machine allows it.
//
//   node test/support/run-tests.ts [node --test options and file patterns...]
//
// Before the runner starts (and while the network is still there) it makes what a real node needs: the Debian
// packages it does not build (installed when missing, as root), the cluster binaries, helm and the images (all built
// and cached by tools/). Then it runs the test runner inside a new private network namespace, where the global
// setup starts the cluster and its node. Where a real node cannot run (not Linux, not root, no cgroups, no way to
// install runc) it says why in one line and runs the same tests with the pod simulator. uv, which the installer's
// tests run beside pip, is fetched here too (cached outside the clone, test/support/uv.ts).
// KASPROP_TEST_PODS=simulator chooses the simulator on any machine.
import { buildControlPlane, binDirEnv } from './controlplane.ts';
import { selectsIntegrationTests } from './global-setup.ts';
import { buildHelm, helmBinDirEnv } from './helm.ts';
import { buildImages, imagesDirEnv } from './images.ts';
import { inNewNetworkNamespace } from './netns.ts';
import { prepareRealNode } from './node.ts';
import { podsEnv, runAttached } from './processes.ts';
import { fetchUv } from './uv.ts';

/**
 * What only a machine with a real node runs (root, namespaces): its integration tests and the images' own test.
 * Named apart from the default selection, so that the simulator's runs never see them.
 */
const realNodeTests = 'test/**/*.node.ts';

const log = (line: string): void => {
  process.stderr.write(`[kasprop test] ${line}\n`);
};

async function main(): Promise<number> {
  const runnerArgs = process.argv.slice(2);
  const binDir = await buildControlPlane(log);
  const helmBinDir = await buildHelm(log);
  fetchUv(log);
  const why = process.env[podsEnv] === 'simulator' ? `${podsEnv}=simulator` : prepareRealNode(log);
  const env = { ...process.env, [binDirEnv]: binDir, [helmBinDirEnv]: helmBinDir };
  if (why !== undefined) {
    log(`pods run on the pod simulator (local processes, no containers): ${why}`);
    return runAttached(process.execPath, ['--test', ...runnerArgs], { ...env, [podsEnv]: 'simulator' });
  }
  const imagesDir = await buildImages(log);
  log('pods run on a real node (kubelet, containerd, runc) inside a private network namespace');
  // What only a real node can show runs only then: those files are named apart from the simulator's selection.
  // A run of named files (no glob among the patterns) runs just those, so one file can be tried alone.
  const patterns = runnerArgs.filter((arg) => !arg.startsWith('--'));
  const selectsSuite = patterns.length === 0 || patterns.some((pattern) => pattern.includes('*'));
  const nodeOnly = selectsSuite && selectsIntegrationTests(patterns) ? [realNodeTests] : [];
  const netns = inNewNetworkNamespace(process.execPath, ['--test', ...runnerArgs, ...nodeOnly]);
  return runAttached(netns.command, netns.args, {
    ...env,
    ...netns.env,
    [podsEnv]: 'node',
    [imagesDirEnv]: imagesDir,
  });
}

process.exitCode = await main();
