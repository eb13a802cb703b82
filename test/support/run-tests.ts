// `npm test` and `npm run test:integration`: node's test runner, on a real node where the machine allows it.
//
//   node test/support/run-tests.ts [node --test options and file patterns...]
//
// Before the runner starts (and while the network is still there) it makes what a real node needs: the Debian
// packages it does not build (installed when missing, as root), the cluster binaries and the images (both built
// and cached by tools/). Then it runs the test runner inside a new private network namespace, where the global
// setup starts the cluster and its node. Where a real node cannot run (not Linux, not root, no cgroups, no way to
// install runc) it says why in one line and runs the same tests with the pod simulator.
// KASPROP_TEST_PODS=simulator chooses the simulator on any machine.
import { spawn } from 'node:child_process';
import { buildControlPlane, binDirEnv } from './controlplane.ts';
import { selectsIntegrationTests } from './global-setup.ts';
import { buildImages, imagesDirEnv } from './images.ts';
import { inNewNetworkNamespace } from './netns.ts';
import { prepareRealNode } from './node.ts';
import { podsEnv } from './processes.ts';

const realNodeTests = 'test/integration/node/**/*.node.ts';

const log = (line: string): void => {
  process.stderr.write(`[kasprop test] ${line}\n`);
};

async function main(): Promise<number> {
  const runnerArgs = process.argv.slice(2);
  const binDir = await buildControlPlane(log);
  const why = process.env[podsEnv] === 'simulator' ? `${podsEnv}=simulator` : prepareRealNode(log);
  const env = { ...process.env, [binDirEnv]: binDir };
  let runner;
  if (why === undefined) {
    const imagesDir = await buildImages(log);
    log('pods run on a real node (kubelet, containerd, runc) inside a private network namespace');
    // What only a real node can show runs only then: those files are named apart from the simulator's selection.
    const patterns = runnerArgs.filter((arg) => !arg.startsWith('--'));
    const nodeOnly = selectsIntegrationTests(patterns) ? [realNodeTests] : [];
    const netns = inNewNetworkNamespace(process.execPath, ['--test', ...runnerArgs, ...nodeOnly]);
    runner = spawn(netns.command, netns.args, {
      stdio: 'inherit',
      env: { ...env, ...netns.env, [podsEnv]: 'node', [imagesDirEnv]: imagesDir },
    });
  } else {
    log(`pods run on the pod simulator (local processes, no containers): ${why}`);
    runner = spawn(process.execPath, ['--test', ...runnerArgs], {
      stdio: 'inherit',
      env: { ...env, [podsEnv]: 'simulator' },
    });
  }
  // Ctrl-C reaches the whole process group; the runner (and unshare) end on their own, this waits for them.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => undefined);
  return new Promise((resolve) => {
    runner.on('exit', (code, signal) => resolve(code ?? (signal !== null ? 1 : 0)));
  });
}

process.exitCode = await main();
