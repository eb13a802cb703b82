// Child processes started by tests and test support, tracked so that nothing outlives a test run.
//
// Every spawn goes through spawnTracked, which records (pid, start time) in a registry file in the run's temp root
// (KASPROP_TEST_ROOT). The global teardown reads it back and also scans /proc for anything whose working directory or
// command line points into the root, so even grandchildren of a test file that crashed are found. Matching on
// (pid, start time) and on the unique root path, never on names or process groups alone, keeps the check from ever
// touching a process another run or another user started.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

// What a test run hands to its test files (separate processes) through the environment.
/** The run's temp directory: control-plane files, simulator directories, and the process registry. */
export const testRootEnv = 'KASPROP_TEST_ROOT';
/** The admin kubeconfig of the run's cluster (with a real node when KASPROP_TEST_PODS=node). */
export const kubeconfigEnv = 'KASPROP_TEST_KUBECONFIG';
/** With a real node: a second control plane, without one, for what only the pod simulator can show. */
export const simulatorKubeconfigEnv = 'KASPROP_TEST_SIMULATOR_KUBECONFIG';
/** `node` or `simulator`: where the run's pods run (set by test/support/run-tests.ts). */
export const podsEnv = 'KASPROP_TEST_PODS';
/** KASPROP_TEST_KEEP_TMP=1 keeps the run's temp directory (component logs, container output) for a post-mortem. */
export const keepTempEnv = 'KASPROP_TEST_KEEP_TMP';
const registryFile = 'processes.tsv';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (e.g. ENOENT). */
  readonly error?: Error;
}

export interface TrackedProcess {
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  readonly exited: Promise<Exit>;
  /** SIGTERM (to the whole group if detached), SIGKILL once graceMs have passed; resolves when the process is gone. */
  terminate(graceMs: number): Promise<Exit>;
}

export interface SpawnTrackedOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly stdio: StdioOptions;
  /** A new process group, so that terminate() also reaches whatever the process started (sh -c, pip, ...). */
  readonly detached?: boolean;
  /** Where the registry lives; defaults to KASPROP_TEST_ROOT, and no registry is kept when neither is set. */
  readonly registryDir?: string | undefined;
}

const live = new Set<{ readonly child: ChildProcess; readonly group: boolean }>();

export function spawnTracked(command: string, args: readonly string[], options: SpawnTrackedOptions): TrackedProcess {
  installExitHooks();
  const group = options.detached === true;
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: options.stdio, detached: group });
  const entry = { child, group };
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(entry);
      resolve({ code, signal });
    });
    // 'error' without a pid means the spawn itself failed and no 'exit' will follow.
    child.once('error', (error) => {
      if (child.pid === undefined) resolve({ code: null, signal: null, error });
    });
  });
  if (child.pid !== undefined) {
    live.add(entry);
    const registryDir = options.registryDir ?? process.env[testRootEnv];
    if (registryDir !== undefined) {
      appendFileSync(
        join(registryDir, registryFile),
        `${child.pid}\t${startTimeOf(child.pid) ?? ''}\t${[command, ...args].join(' ').slice(0, 200)}\n`,
      );
    }
  }
  const terminate = async (graceMs: number): Promise<Exit> => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return exited;
    signalProcess(child.pid, group, 'SIGTERM');
    const timer = setTimeout(() => {
      if (child.pid !== undefined) signalProcess(child.pid, group, 'SIGKILL');
    }, graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return { child, pid: child.pid, exited, terminate };
}

function signalProcess(pid: number, group: boolean, signal: NodeJS.Signals): void {
  try {
    process.kill(group ? -pid : pid, signal);
  } catch {
    // Already gone.
  }
}

let hooksInstalled = false;

// A test process that exits (or is interrupted) with children still running must not leave them behind: 'exit'
// handlers can only do synchronous work, and SIGKILL is synchronous.
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Only where nobody else handles the signal (the test runner does, in its own process): there, taking it over
    // would change how the process ends. Re-raising keeps the default exit by that signal.
    if (process.listenerCount(signal) > 0) continue;
    process.once(signal, () => {
      killAllNow();
      process.kill(process.pid, signal);
    });
  }
}

function killAllNow(): void {
  for (const { child, group } of live) {
    if (child.pid !== undefined) signalProcess(child.pid, group, 'SIGKILL');
  }
}

export interface Survivor {
  readonly pid: number;
  readonly command: string;
  readonly why: string;
}

/**
 * Processes started under `root` that are still alive: registered (pid, start time) pairs, and any process whose
 * working directory or command line is inside `root`. The calling process and its ancestors are never included.
 */
export function findSurvivors(root: string): Survivor[] {
  const registered = readRegistry(root);
  const excluded = ancestorsOfSelf();
  const survivors: Survivor[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (excluded.has(pid)) continue;
    const command = readProc(pid, 'cmdline')?.replaceAll('\0', ' ').trim() ?? '';
    const stat = readStat(pid);
    // Zombies are already dead; they only wait for a parent to reap them.
    if (stat === undefined || stat.state === 'Z') continue;
    let why: string | undefined;
    if (registered.get(pid) === stat.startTime) why = 'started by the tests';
    else if (isInside(cwdOf(pid), root)) why = `working directory in ${root}`;
    else if (command.includes(root)) why = `command line mentions ${root}`;
    if (why !== undefined) survivors.push({ pid, command: command.slice(0, 300), why });
  }
  return survivors;
}

/** SIGKILLs the given survivors and waits (briefly) until they are gone. */
export async function killSurvivors(survivors: readonly Survivor[]): Promise<void> {
  for (const { pid } of survivors) signalProcess(pid, false, 'SIGKILL');
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && survivors.some(({ pid }) => isAlive(pid))) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function isAlive(pid: number): boolean {
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

function readRegistry(root: string): Map<number, string> {
  const registered = new Map<number, string>();
  let text: string;
  try {
    text = readFileSync(join(root, registryFile), 'utf8');
  } catch {
    return registered;
  }
  for (const line of text.split('\n')) {
    const [pid, startTime] = line.split('\t');
    if (pid && startTime) registered.set(Number(pid), startTime);
  }
  return registered;
}

function ancestorsOfSelf(): Set<number> {
  const pids = new Set<number>();
  for (let pid = process.pid; pid > 1 && !pids.has(pid);) {
    pids.add(pid);
    const parent = readStat(pid)?.parent;
    if (parent === undefined) break;
    pid = parent;
  }
  return pids;
}

function readProc(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

function cwdOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

function isInside(path: string | undefined, root: string): boolean {
  return path !== undefined && (path === root || path.startsWith(root + '/'));
}

/** Fields of /proc/<pid>/stat after the command, which may itself contain spaces and parentheses. */
function readStat(pid: number): { state: string; parent: number; startTime: string } | undefined {
  const text = readProc(pid, 'stat');
  if (text === undefined) return undefined;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3 of stat(5), ppid field 4, starttime field 22.
  const [state, parent] = fields;
  const startTime = fields[19];
  if (state === undefined || parent === undefined || startTime === undefined) return undefined;
  return { state, parent: Number(parent), startTime };
}

function startTimeOf(pid: number): string | undefined {
  return readStat(pid)?.startTime;
}
