// Runs the real installer the way the init container does (`/bin/sh -c BOOTSTRAP install-packages PROGRAM`), as a
// separate process with an explicit, minimal environment: nothing of this machine's pip settings (PIP_* variables,
// /etc/pip.conf) or of the test runner's environment reaches it except what a pod would have.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  INSTALLER_BOOTSTRAP_FILE,
  INSTALLER_ENV,
  INSTALLER_PROGRAM_FILE,
  type OnFailure,
  type PackageInstaller,
} from '../../src/packages/installer-contract.ts';
import { fetchUv } from '../support/uv.ts';
import { startWheelIndex, type WheelIndex } from '../support/wheel-index.ts';
import { installerFiles } from '../../src/packages/installer-files.ts';
import { INSTALLER_PROGRAM } from '../../src/packages/installer-source.generated.ts';
import { parseInstallResult, type ParsedInstallResult } from '../../src/packages/install-result.ts';
import type { InstallResult } from '../../src/packages/installer-contract.ts';

/** The real interpreter behind `python3` (pyenv's shim is a bash script that needs pyenv's own environment). */
export const PYTHON = resolvePython('python3');

function resolvePython(command: string): string {
  return execFileSync(command, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
}

/** A temp directory standing in for one volume and the pods that share it. */
export interface Sandbox {
  readonly root: string;
  readonly volume: string;
  readonly home: string;
  readonly tmp: string;
  readonly work: string;
  /** The installer ConfigMap's files, as the init container sees them mounted (root's, read-only to others). */
  readonly installer: string;
  /** Kills the installers still running here (a test that failed half-way), then removes the directory. */
  cleanup(): Promise<void>;
}

const running = new WeakMap<Sandbox, Map<number, Promise<InstallerExit>>>();

/** A sandbox and a local wheel index for one test, both gone after it. */
export async function sandboxWithIndex(t: {
  after(fn: () => Promise<void>): void;
}): Promise<{ index: WheelIndex; sandbox: Sandbox }> {
  const index = await startWheelIndex();
  const sandbox = await createSandbox();
  t.after(async () => {
    await index.close();
    await sandbox.cleanup();
  });
  return { index, sandbox };
}

export async function createSandbox(): Promise<Sandbox> {
  const root = await mkdtemp(join(tmpdir(), 'kasprop-installer-'));
  const sandbox: Sandbox = {
    root,
    volume: join(root, 'volume'),
    home: join(root, 'home'),
    tmp: join(root, 'tmp'),
    work: join(root, 'work'),
    installer: join(root, 'installer'),
    cleanup: async () => {
      const installers = running.get(sandbox) ?? new Map<number, Promise<InstallerExit>>();
      for (const pid of installers.keys()) killTree(pid);
      await Promise.allSettled(installers.values());
      await rm(root, { recursive: true, force: true });
    },
  };
  running.set(sandbox, new Map());
  await Promise.all(
    [sandbox.volume, sandbox.home, sandbox.tmp, sandbox.work, sandbox.installer].map((dir) => mkdir(dir)),
  );
  for (const [file, text] of Object.entries(installerFiles)) {
    await writeFile(join(sandbox.installer, file), text, { mode: 0o644 });
  }
  return sandbox;
}

/** The init container's command line: `/bin/sh <bootstrap> <program>`, both files of the installer ConfigMap. */
export function installerCommand(sandbox: Sandbox): string[] {
  return [
    '/bin/sh',
    join(sandbox.installer, INSTALLER_BOOTSTRAP_FILE),
    join(sandbox.installer, INSTALLER_PROGRAM_FILE),
  ];
}

export function randomHash(): string {
  return randomBytes(8).toString('hex');
}

export interface InstallerSettings {
  readonly hash: string;
  readonly requirements: readonly string[] | string;
  /** KASPR_PACKAGES_LOCKED lines (`name==version sha256:hex ...`), as the model renders packagesWithHashes. */
  readonly locked?: readonly string[];
  readonly indexUrl?: string;
  /** KASPR_PACKAGES_BUNDLE_DIR: a wheelhouse directory, as the bundle's mount shows it. */
  readonly bundleDir?: string;
  /** KASPR_PACKAGES_OFFLINE=true: the bundle only, no index. */
  readonly offline?: boolean;
  readonly extraIndexUrls?: readonly string[];
  readonly trustedHosts?: readonly string[];
  readonly username?: string;
  readonly password?: string;
  readonly retries?: number;
  readonly timeoutSeconds?: number;
  readonly deadlineSeconds?: number;
  readonly onFailure?: OnFailure;
  readonly podName?: string;
  /** Volume path; the sandbox's volume by default. */
  readonly dir?: string;
  /** Variables a pod might carry besides the contract's (e.g. an image's PIP_* settings). */
  readonly extraEnv?: Readonly<Record<string, string>>;
  /** Interpreter to put first on PATH as `python3`; the machine's by default. */
  readonly python?: string;
  /** Run the installer as this uid and gid (the sandbox must be theirs), as a pod with runAsUser does. */
  readonly runAs?: number;
  /** A command that execs the installer's `/bin/sh` (so its pid stays the installer's), e.g. to drop capabilities. */
  readonly wrapper?: readonly string[];
  /** KASPR_PACKAGES_INSTALLER; unset (pip) by default. */
  readonly installer?: PackageInstaller;
  /** Whether the image has uv (the cached uv on PATH); by default when `installer` is uv or auto. */
  readonly imageUv?: boolean;
}

/** The installers whose contract is the same: the contract tests run once for each. */
export const INSTALLERS = ['pip', 'uv'] as const satisfies readonly PackageInstaller[];

export function installerEnv(sandbox: Sandbox, settings: InstallerSettings, terminationLog: string): NodeJS.ProcessEnv {
  const imageUv = settings.imageUv ?? (settings.installer === 'uv' || settings.installer === 'auto');
  const env: NodeJS.ProcessEnv = {
    PATH: `${imageUv ? fetchUv().binDir + ':' : ''}${dirname(settings.python ?? PYTHON)}:/usr/bin:/bin`,
    HOME: sandbox.home,
    TMPDIR: sandbox.tmp,
    [INSTALLER_ENV.hash]: settings.hash,
    [INSTALLER_ENV.requirements]:
      typeof settings.requirements === 'string' ? settings.requirements : settings.requirements.join('\n'),
    [INSTALLER_ENV.podName]: settings.podName ?? 'pod-0',
    [INSTALLER_ENV.dir]: settings.dir ?? sandbox.volume,
    [INSTALLER_ENV.terminationLog]: terminationLog,
    [INSTALLER_ENV.retries]: String(settings.retries ?? 0),
    [INSTALLER_ENV.timeoutSeconds]: String(settings.timeoutSeconds ?? 60),
    [INSTALLER_ENV.onFailure]: settings.onFailure ?? 'block',
    ...settings.extraEnv,
  };
  const optional: [string, string | undefined][] = [
    [INSTALLER_ENV.locked, settings.locked?.join('\n')],
    [INSTALLER_ENV.indexUrl, settings.indexUrl],
    [INSTALLER_ENV.bundleDir, settings.bundleDir],
    [INSTALLER_ENV.offline, settings.offline === undefined ? undefined : String(settings.offline)],
    [INSTALLER_ENV.extraIndexUrls, settings.extraIndexUrls?.join('\n')],
    [INSTALLER_ENV.trustedHosts, settings.trustedHosts?.join('\n')],
    [INSTALLER_ENV.indexUsername, settings.username],
    [INSTALLER_ENV.indexPassword, settings.password],
    [INSTALLER_ENV.deadlineSeconds, settings.deadlineSeconds?.toString()],
    [INSTALLER_ENV.installer, settings.installer],
  ];
  for (const [name, value] of optional) if (value !== undefined) env[name] = value;
  return env;
}

export interface InstallerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The termination message as written, or empty when none was. */
  readonly message: string;
  readonly parsed: ParsedInstallResult;
}

export interface InstallerProcess {
  /** The container's main process: sh, which exec's python3 when there is work to do. */
  readonly pid: number;
  readonly exited: Promise<InstallerExit>;
}

let runs = 0;

export function startInstaller(sandbox: Sandbox, settings: InstallerSettings): InstallerProcess {
  runs += 1;
  const terminationLog = join(sandbox.root, `termination-log-${String(runs)}`);
  const command = [...(settings.wrapper ?? []), ...installerCommand(sandbox)];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: sandbox.work,
    env: installerEnv(sandbox, settings, terminationLog),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(settings.runAs !== undefined && { uid: settings.runAs, gid: settings.runAs }),
  });
  if (child.pid === undefined) throw new Error('the installer did not start');
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<InstallerExit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const message = existsSync(terminationLog) ? readFileSync(terminationLog, 'utf8') : '';
      resolve({ code, signal, stdout, stderr, message, parsed: parseInstallResult(message) });
    });
  });
  const pid = child.pid;
  running.get(sandbox)?.set(pid, exited);
  const forget = (): void => void running.get(sandbox)?.delete(pid);
  exited.then(forget, forget);
  return { pid, exited };
}

export async function runInstaller(sandbox: Sandbox, settings: InstallerSettings): Promise<InstallerExit> {
  return startInstaller(sandbox, settings).exited;
}

/** The result document, failing the test with the installer's output when there is none. */
export function resultOf(exit: InstallerExit): InstallResult {
  if (exit.parsed.kind === 'result') return exit.parsed.result;
  throw new Error(`no install result (${exit.parsed.reason}); output:\n${exit.stdout}\n${exit.stderr}`);
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${String(timeoutMs)} ms waiting for ${what}`);
    await sleep(10);
  }
}

interface ProcInfo {
  readonly pid: number;
  readonly ppid: number;
}

function processTable(): ProcInfo[] {
  const table: ProcInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may contain spaces and parentheses; the fields after its closing parenthesis do not.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.push({ pid: Number(entry), ppid: Number(fields[1]) });
    } catch {
      // The process exited while we looked.
    }
  }
  return table;
}

export function descendants(pid: number): number[] {
  const table = processTable();
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const info of table) {
      if (info.ppid === parent) {
        found.push(info.pid);
        queue.push(info.pid);
      }
    }
  }
  return found;
}

/**
 * What a container kill does: SIGKILL to the process and everything it started, whatever process group they are in
 * (pip runs in a session of its own). The tree is read before anything dies, so reparented children are not missed.
 */
export function killTree(pid: number): void {
  const tree = [pid, ...descendants(pid)];
  for (const member of tree) {
    try {
      process.kill(member, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** Processes whose command line or environment mention text: a finished installer must leave none behind. */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`);
      const environ = readFileSync(`/proc/${entry}/environ`);
      if (cmdline.includes(text) || environ.includes(text)) found.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return found;
}

/** Every regular file under the given roots, with its content, for secret scans. */
export function filesUnder(...roots: string[]): { path: string; content: Buffer }[] {
  const files: { path: string; content: Buffer }[] = [];
  const visit = (path: string): void => {
    let info;
    try {
      info = statSync(path, { throwIfNoEntry: false });
    } catch {
      return;
    }
    if (info === undefined) return;
    if (info.isDirectory()) {
      for (const name of readdirSync(path)) visit(join(path, name));
    } else if (info.isFile()) {
      files.push({ path, content: readFileSync(path) });
    }
  };
  for (const root of roots) visit(root);
  return files;
}

/** Runs python3 (PYTHONPATH set to dir, nothing else of ours) and returns what the snippet prints. */
export function pythonWith(dir: string, snippet: string): string {
  return execFileSync(PYTHON, ['-c', snippet], {
    encoding: 'utf8',
    env: { PATH: `${dirname(PYTHON)}:/usr/bin:/bin`, PYTHONPATH: dir },
  }).trim();
}

const UNIT_DRIVER = `
import json, sys
request = json.load(sys.stdin)
namespace = {"__name__": "kasprop_installer"}
exec(compile(request["program"], "installer.py", "exec"), namespace)
namespace["INPUT"] = request["input"]
exec(request["snippet"], namespace)
print(json.dumps(namespace.get("OUTPUT")))
`;

/**
 * Runs a Python snippet with the installer program loaded as a module (its main() does not run): the snippet sees
 * the program's functions, `INPUT` (the given value) and sets `OUTPUT` (returned, through JSON).
 */
export function callInstaller(snippet: string, input: unknown = null, python = PYTHON): unknown {
  const output = execFileSync(python, ['-c', UNIT_DRIVER], {
    input: JSON.stringify({ program: INSTALLER_PROGRAM, snippet, input }),
    encoding: 'utf8',
    env: { PATH: `${dirname(python)}:/usr/bin:/bin` },
  });
  return JSON.parse(output) as unknown;
}
