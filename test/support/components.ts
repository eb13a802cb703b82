// A component of the test cluster: one tracked process with its log file, ready when a probe says so. Shared by the
// control plane's launcher and the node's.
import { readFileSync } from 'node:fs';
import type { TrackedProcess } from './processes.ts';

export interface Component {
  readonly name: string;
  readonly logPath: string;
  readonly process: TrackedProcess;
}

/** Polls `probe` until it succeeds; fails early, with the end of the log, if the component dies or times out. */
export async function waitReady(component: Component, timeoutMs: number, probe: () => Promise<unknown>): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const state = { exited: false };
  void component.process.exited.then(() => (state.exited = true));
  let lastError: unknown;
  while (!state.exited && performance.now() < deadline) {
    try {
      await probe();
      return;
    } catch (error) {
      lastError = error;
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  const what = state.exited ? 'exited before it was ready' : `not ready within ${timeoutMs} ms`;
  const last = lastError instanceof Error ? lastError.message : String(lastError);
  throw new Error(`${component.name} ${what} (last probe: ${last})\n${logTail(component.logPath)}`);
}

export function describeExit(exit: { code: number | null; signal: string | null; error?: Error }): string {
  if (exit.error) return exit.error.message;
  return exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

/** The last lines of a log file, indented, for error messages. */
export function logTail(path: string, lines = 40): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return `  (no log at ${path})`;
  }
  const tail = text.trimEnd().split('\n').slice(-lines);
  return [`  last ${tail.length} lines of ${path}:`, ...tail.map((line) => `  | ${line}`)].join('\n');
}
