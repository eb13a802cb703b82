// The cluster's own kubectl (built with it by tools/controlplane), for what tests check the way a person would:
// `kubectl logs`, `kubectl exec`, `kubectl kustomize`.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { binDirEnv } from './controlplane.ts';

/** Runs kubectl against the cluster of `kubeconfigPath` and returns its stdout; a failure rejects with its stderr. */
export async function kubectl(kubeconfigPath: string, args: readonly string[]): Promise<string> {
  const binDir = process.env[binDirEnv];
  if (binDir === undefined) throw new Error(`${binDirEnv} is not set (run through test/support/run-tests.ts)`);
  const { stdout } = await promisify(execFile)(join(binDir, 'kubectl'), ['--kubeconfig', kubeconfigPath, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}
