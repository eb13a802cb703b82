// A fake exec credential plugin, standing in for `aws eks get-token` and the like (which need a cloud account):
// it prints the ExecCredentials its test wrote, one per run (the last one again once they run out), and records
// each run (argv, KUBERNETES_EXEC_INFO, the env the kubeconfig gave it) so the test can count runs and check
// what a plugin receives. Its directory comes from the env var FAKE_EXEC_PLUGIN_DIR.
//   <dir>/credentials.json  [{ "token": "...", "expirationTimestamp": "..." }, ...], written by the test
//   <dir>/runs.jsonl        one line per run, appended here
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface FakePluginRun {
  readonly argv: string[];
  readonly execInfo: unknown;
  readonly region: string | undefined;
}

export interface FakeCredential {
  readonly token: string;
  readonly expirationTimestamp?: string;
}

export const fakePluginDirEnv = 'FAKE_EXEC_PLUGIN_DIR';

export function fakePluginRuns(dir: string): FakePluginRun[] {
  let text: string;
  try {
    text = readFileSync(join(dir, 'runs.jsonl'), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as FakePluginRun);
}

function main(dir: string): void {
  const run: FakePluginRun = {
    argv: process.argv.slice(2),
    execInfo: JSON.parse(process.env.KUBERNETES_EXEC_INFO ?? 'null'),
    region: process.env.FAKE_REGION,
  };
  const previous = fakePluginRuns(dir).length;
  appendFileSync(join(dir, 'runs.jsonl'), `${JSON.stringify(run)}\n`);
  const credentials = JSON.parse(readFileSync(join(dir, 'credentials.json'), 'utf8')) as FakeCredential[];
  const status = credentials[Math.min(previous, credentials.length - 1)];
  const apiVersion = (run.execInfo as { apiVersion?: string } | null)?.apiVersion;
  process.stdout.write(JSON.stringify({ apiVersion, kind: 'ExecCredential', status }));
}

const dir = process.env[fakePluginDirEnv];
if (import.meta.main && dir !== undefined) main(dir);
