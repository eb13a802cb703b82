// Busy processes, one per core, for tests that assert that something does NOT happen: a check that holds only on
// an idle machine proves little, since a slow operator can look quiet simply by being late.
import { availableParallelism } from 'node:os';
import { spawnTracked, testRootEnv } from './processes.ts';

export interface CpuHog {
  stop(): Promise<void>;
}

export function startCpuHog(processes = availableParallelism()): CpuHog {
  const hogs = Array.from({ length: processes }, () =>
    spawnTracked(process.execPath, ['-e', 'for (;;);'], {
      cwd: process.env[testRootEnv] ?? process.cwd(),
      env: {},
      stdio: 'ignore',
    }),
  );
  return {
    stop: async () => {
      await Promise.all(hogs.map((hog) => hog.terminate(1_000)));
    },
  };
}
