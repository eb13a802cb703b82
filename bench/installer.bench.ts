// What a pod start costs with pythonPackages: the fast path (packages already on the volume) against `sh -c true`,
// the same path when python3 has to run, and a real install of a small set, cold and for a new hash of the same set
// (its files in the store of distributions), unlocked and locked (packagesWithHashes: pip in hash-checking mode over
// the same three distributions). Then, on a realistic set (a dozen wheels of 3 MiB, from an index that sends no cache
// headers, as the registry measured in issue 16): what the store buys, first install against a reinstall after a
// one-package change, over loopback and through a throttle modelling a registry; and pip against uv, with the
// machine's load.
import { execFileSync, spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { preparedResultPath } from '../src/packages/installer-contract.ts';
import { lockedLines } from '../src/packages/locked-packages.ts';
import { startWheelIndex } from '../test/support/wheel-index.ts';
import { buildWheels, DEMO_PROJECTS, type WheelProject } from '../test/support/wheels.ts';
import {
  createSandbox,
  installerCommand,
  installerEnv,
  PYTHON,
  randomHash,
  resultOf,
  runInstaller,
  type InstallerSettings,
  type Sandbox,
} from '../test/script/installer-harness.ts';

const FAST_PATH_RUNS = 200;
const PYTHON_PATH_RUNS = 30;
const INSTALL_RUNS = 5;
const REQUIREMENTS = ['kaspr-demo-a==1.0', 'kaspr-demo-c==1.0'];
// The same set, locked: a 1.0 with the b 1.0 it resolves to, and c 1.0, each with the digest of its wheel.
const LOCKED = lockedLines(
  buildWheels(DEMO_PROJECTS)
    .filter((wheel) =>
      ['kaspr_demo_a-1.0', 'kaspr_demo_b-1.0', 'kaspr_demo_c-1.0'].some((p) => wheel.filename.startsWith(p)),
    )
    .map((wheel) => ({
      name: wheel.project,
      version: '1.0',
      hashes: [{ algorithm: 'sha256' as const, digest: wheel.sha256 }],
    })),
);

const STORE_RUNS = 3;
const SET_SIZE = 12;
const WHEEL_PAYLOAD_BYTES = 3 * 1024 * 1024;
/** The registry model: latency before every answer (pages and files) and a bandwidth for file bodies. */
const REGISTRY_LATENCY_MS = 50;
const REGISTRY_BYTES_PER_SECOND = 10 * 1024 * 1024;
const SET: readonly WheelProject[] = Array.from({ length: SET_SIZE + 1 }, (_, i) => ({
  name: `kaspr-bench-${String(i).padStart(2, '0')}`,
  releases: [{ version: '1.0', payloadBytes: WHEEL_PAYLOAD_BYTES }],
}));
const FIRST_SET = SET.slice(0, SET_SIZE).map((project) => `${project.name}==1.0`);
// One package changed: the last one replaced by another.
const CHANGED_SET = [...FIRST_SET.slice(0, SET_SIZE - 1), `${SET[SET_SIZE]!.name}==1.0`];

/**
 * Medians of (first install, reinstall after a one-package change), each pair on a fresh volume, and how many files
 * each reinstall downloaded (from the index's request log).
 */
async function storeFigures(throttled: boolean): Promise<[number, number, number[]]> {
  const registry = throttled ? { delayMs: REGISTRY_LATENCY_MS, bytesPerSecond: REGISTRY_BYTES_PER_SECOND } : {};
  const setIndex = await startWheelIndex({ projects: SET, ...registry });
  try {
    const first: number[] = [];
    const changed: number[] = [];
    const fetched: number[] = [];
    for (let run = 0; run < STORE_RUNS; run++) {
      const sandbox = await createSandbox();
      try {
        first.push(
          await timedInstall(sandbox, { indexUrl: setIndex.url, requirements: FIRST_SET, hash: randomHash() }),
        );
        const before = setIndex.fileDownloads().length;
        changed.push(
          await timedInstall(sandbox, { indexUrl: setIndex.url, requirements: CHANGED_SET, hash: randomHash() }),
        );
        fetched.push(setIndex.fileDownloads().length - before);
      } finally {
        await sandbox.cleanup();
      }
    }
    return [median(first), median(changed), fetched];
  } finally {
    await setIndex.close();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function timeSpawn(command: string, args: readonly string[], env: NodeJS.ProcessEnv): number {
  const started = process.hrtime.bigint();
  const run = spawnSync(command, args, { env, stdio: 'ignore' });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (run.status !== 0) throw new Error(`${command} exited with ${String(run.status)}`);
  return elapsed;
}

async function timedInstall(sandbox: Sandbox, settings: InstallerSettings): Promise<number> {
  const started = process.hrtime.bigint();
  const exit = await runInstaller(sandbox, settings);
  const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
  if (resultOf(exit).state !== 'Ready') throw new Error(exit.stdout + exit.stderr);
  return elapsed;
}

const ms = (value: number): string => `${value.toFixed(2)} ms`;

const REALISTIC_RUNS = 3;
const REALISTIC_PROJECTS: readonly WheelProject[] = Array.from({ length: 12 }, (_, i) => ({
  name: `kaspr-bench-${String(i + 1).padStart(2, '0')}`,
  releases: [
    { version: '1.0', payloadBytes: 3 * 1024 * 1024 },
    { version: '2.0', payloadBytes: 3 * 1024 * 1024 },
  ],
}));
const REALISTIC_FIRST = REALISTIC_PROJECTS.map((project) => `${project.name}==1.0`);
// One package changed: the last one moves to 2.0.
const REALISTIC_CHANGED = [...REALISTIC_FIRST.slice(0, -1), `${REALISTIC_PROJECTS.at(-1)!.name}==2.0`];

/** pip against uv: first install and the reinstall after a one-package change, each on a volume of its own. */
async function pipAgainstUv(): Promise<void> {
  const realistic = await startWheelIndex({ projects: REALISTIC_PROJECTS, cacheHeaders: false });
  try {
    const figures = new Map<string, number[]>();
    const record = (label: string, value: number): void =>
      void figures.set(label, [...(figures.get(label) ?? []), value]);
    for (let run = 0; run < REALISTIC_RUNS; run++) {
      // Interleaved, so that drift in the machine's load affects both installers alike.
      for (const installer of ['pip', 'uv'] as const) {
        const sandbox = await createSandbox();
        try {
          const settings = { installer, indexUrl: realistic.url, trustedHosts: [realistic.host], timeoutSeconds: 600 };
          record(
            `${installer}: first install`,
            await timedInstall(sandbox, { ...settings, hash: randomHash(), requirements: REALISTIC_FIRST }),
          );
          record(
            `${installer}: after a one-package change`,
            await timedInstall(sandbox, { ...settings, hash: randomHash(), requirements: REALISTIC_CHANGED }),
          );
        } finally {
          await sandbox.cleanup();
        }
      }
    }
    console.log(
      `pip against uv: ${String(REALISTIC_PROJECTS.length)} wheels of 3 MiB, index without cache headers; medians of ${String(REALISTIC_RUNS)}`,
    );
    for (const [label, values] of figures) console.log(`  ${label.padEnd(48)} ${ms(median(values)).padStart(12)}`);
    console.log(`  machine load: ${execFileSync('uptime', { encoding: 'utf8' }).trim()}`);
  } finally {
    await realistic.close();
  }
}

const index = await startWheelIndex();
try {
  const cold: number[] = [];
  const warm: number[] = [];
  const lockedCold: number[] = [];
  const lockedWarm: number[] = [];
  for (let run = 0; run < INSTALL_RUNS; run++) {
    const sandbox = await createSandbox();
    const lockedSandbox = await createSandbox();
    try {
      // Trusted, so that pip would cache what it fetches from the plain-http test index, as from an https one.
      const settings = { requirements: REQUIREMENTS, indexUrl: index.url, trustedHosts: [index.host] };
      const locked = { ...settings, locked: LOCKED };
      // Interleaved, so that drift in the machine's load affects both series alike.
      cold.push(await timedInstall(sandbox, { ...settings, hash: randomHash() }));
      lockedCold.push(await timedInstall(lockedSandbox, { ...locked, hash: randomHash() }));
      warm.push(await timedInstall(sandbox, { ...settings, hash: randomHash() }));
      lockedWarm.push(await timedInstall(lockedSandbox, { ...locked, hash: randomHash() }));
    } finally {
      await lockedSandbox.cleanup();
      await sandbox.cleanup();
    }
  }

  const sandbox = await createSandbox();
  try {
    const hash = randomHash();
    const settings = { hash, requirements: REQUIREMENTS, indexUrl: index.url };
    await timedInstall(sandbox, settings);
    const env = installerEnv(sandbox, settings, join(sandbox.root, 'termination-log'));
    const [, ...bootstrap] = installerCommand(sandbox);
    const baselineEnv = { PATH: env.PATH };
    // Interleaved, so that drift in the machine's load affects both series alike.
    const fast: number[] = [];
    const baseline: number[] = [];
    for (let run = 0; run < FAST_PATH_RUNS; run++) {
      baseline.push(timeSpawn('/bin/sh', ['-c', 'true'], baselineEnv));
      fast.push(timeSpawn('/bin/sh', bootstrap, env));
    }
    // Without the prepared result the bootstrap cannot answer alone: python3 starts, finds the marker, reuses.
    await rm(preparedResultPath(sandbox.volume, hash));
    const viaPython: number[] = [];
    const pythonBaseline: number[] = [];
    for (let run = 0; run < PYTHON_PATH_RUNS; run++) {
      pythonBaseline.push(timeSpawn(PYTHON, ['-c', 'pass'], baselineEnv));
      viaPython.push(timeSpawn('/bin/sh', bootstrap, env));
    }

    const rows: [string, string][] = [
      [`fast path (marker present), ${String(FAST_PATH_RUNS)} runs`, ms(median(fast))],
      [`sh -c true, ${String(FAST_PATH_RUNS)} runs`, ms(median(baseline))],
      ['fast path / sh -c true (target <= 1.5x)', `${(median(fast) / median(baseline)).toFixed(2)}x`],
      [`reuse through python3, ${String(PYTHON_PATH_RUNS)} runs`, ms(median(viaPython))],
      [`python3 -c pass, ${String(PYTHON_PATH_RUNS)} runs`, ms(median(pythonBaseline))],
      [`cold install on an empty volume, ${String(INSTALL_RUNS)} runs`, ms(median(cold))],
      [`install of a new hash, same set, ${String(INSTALL_RUNS)} runs`, ms(median(warm))],
      [`locked cold install (hash-checked), ${String(INSTALL_RUNS)} runs`, ms(median(lockedCold))],
      [`locked install of a new hash, same set, ${String(INSTALL_RUNS)} runs`, ms(median(lockedWarm))],
    ];
    console.log(`installer, requirements ${REQUIREMENTS.join(' ')} (3 distributions); medians`);
    for (const [label, value] of rows) console.log(`  ${label.padEnd(56)} ${value.padStart(10)}`);

    const mib = WHEEL_PAYLOAD_BYTES / 1024 / 1024;
    const registry = `${String(REGISTRY_LATENCY_MS)} ms a request, ${String(REGISTRY_BYTES_PER_SECOND / 1024 / 1024)} MiB/s`;
    console.log(
      `store of distributions: ${String(SET_SIZE)} wheels of ${String(mib)} MiB, index without cache headers; ` +
        `medians of ${String(STORE_RUNS)} pairs, each on a fresh volume`,
    );
    for (const [label, throttled] of [
      ['loopback', false],
      [`throttled like a registry (${registry})`, true],
    ] as const) {
      const [first, changed, fetched] = await storeFigures(throttled);
      console.log(`  ${label}`);
      console.log(`    ${'first install'.padEnd(52)} ${ms(first).padStart(12)}`);
      console.log(`    ${'reinstall after a one-package change'.padEnd(52)} ${ms(changed).padStart(12)}`);
      console.log(`    ${'files each reinstall downloaded'.padEnd(52)} ${fetched.join(', ').padStart(12)}`);
      console.log(
        `    ${'first / reinstall (target >= 3x)'.padEnd(52)} ${`${(first / changed).toFixed(2)}x`.padStart(12)}`,
      );
    }
  } finally {
    await sandbox.cleanup();
  }
} finally {
  await index.close();
}
await pipAgainstUv();
