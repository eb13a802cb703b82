// helm, built from its Go module and cached by tools/helm/build.sh, for the chart's tests (charts/kasprop).
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { runBuildScript } from './controlplane.ts';

/** Set by run-tests.ts for the test runner: the build's bin directory, so no test process builds again. */
export const helmBinDirEnv = 'KASPROP_HELM_BIN_DIR';
const buildScript = resolve(import.meta.dirname, '../../tools/helm/build.sh');

export async function buildHelm(log: (line: string) => void): Promise<string> {
  return runBuildScript(buildScript, 'helm build', log);
}

/** Runs helm with `args` and returns its stdout; a failure rejects with its stderr. */
export async function helm(args: readonly string[]): Promise<string> {
  const binDir = process.env[helmBinDirEnv] ?? (await buildHelm((line) => process.stderr.write(`${line}\n`)));
  // Helm keeps its repositories, cache and registry logins under these: a scratch place, never the user's own.
  const home = join(process.env.TMPDIR ?? '/tmp', 'kasprop-helm-home');
  const { stdout } = await promisify(execFile)(join(binDir, 'helm'), args, {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: {
      ...process.env,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    },
  });
  return stdout;
}
