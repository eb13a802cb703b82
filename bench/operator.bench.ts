// The operator at scale on the real control plane: how long 200 KasprApps take to converge, how many mutating
// requests a steady-state resync sends, its memory and requests across a 30 s apiserver outage with 200 apps (once
// converged, and once while 200 more converge), its memory, CPU and requests with 1000 KasprApps (two replicas each),
// and how long a spec change of every app takes to be applied. The operator runs as the
// image runs it (`npm run build`'s JavaScript, with the Dockerfile's NODE_OPTIONS) in a process of its own, so its
// RSS is its own; figures come from its /metrics and /proc.
// No pod simulator: pods stay Pending, so this measures the operator (children, status), not pip.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KasprAppResource, type KasprApp } from '../src/api/types.ts';
import type { KubeClient } from '../src/runtime/kube/client.ts';
import { listAll } from '../src/runtime/kube/client.ts';
import { ResourceTypes, type ResourceType } from '../src/runtime/kube/resources.ts';
import { startControlPlane } from '../test/support/controlplane.ts';
import { installKasprAppCrd } from '../test/support/integration.ts';
import { kasprApp } from '../test/support/kasprapps.ts';

const FIRST_BATCH = 200;
// Issue 12's scales: `KASPROP_BENCH_APPS=5000 npm run bench -- operator` (two replicas each).
const TOTAL = Number(process.env.KASPROP_BENCH_APPS ?? 1000);
// How long the settled operator is watched for its CPU and requests; issue 12 asks for 5 minutes.
const STEADY_SECONDS = Number(process.env.KASPROP_BENCH_STEADY_SECONDS ?? 300);
// The bench's resync period: far shorter than the default 10 minutes (src/cli/run.ts), so a steady window of a few
// minutes sees several resyncs of every app. `KASPROP_BENCH_RESYNC_SECONDS=600` measures the default.
const RESYNC_SECONDS = Number(process.env.KASPROP_BENCH_RESYNC_SECONDS ?? 20);
const OUTAGE_SECONDS = 30;
const namespace = 'bench';
const repo = fileURLToPath(new URL('..', import.meta.url));
const main = join(repo, 'dist', 'src', 'cli', 'main.js');
// How the image runs the operator: the Dockerfile's ENV lines and its ENTRYPOINT's node flags.
const dockerfile = readFileSync(join(repo, 'Dockerfile'), 'utf8');
const imageEnv: Record<string, string> = Object.fromEntries(
  [...dockerfile.matchAll(/^ENV (\w+)=(.*)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']),
);
const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
const imageNodeFlags = entrypoint.filter((word) => word.startsWith('--'));
// More node flags for the operator, to look into it: e.g. `--cpu-prof --cpu-prof-dir=/tmp/profiles`.
const extraNodeFlags = (process.env.KASPROP_BENCH_NODE_FLAGS ?? '').split(' ').filter((flag) => flag !== '');

if (spawnSync('npm', ['run', '--silent', 'build'], { cwd: repo, stdio: 'inherit' }).status !== 0) {
  throw new Error('npm run build failed');
}

const root = mkdtempSync(join(tmpdir(), 'kasprop-bench-'));
const controlPlane = await startControlPlane({ rootDir: join(root, 'controlplane') });
const client = controlPlane.client({ requestTimeoutMs: 60_000 });
const operator = spawn(
  process.execPath,
  [
    ...imageNodeFlags,
    ...extraNodeFlags,
    main,
    'run',
    '--kubeconfig',
    controlPlane.kubeconfigPath,
    '--namespaces',
    namespace,
    '--leader-elect',
    'false',
    '--metrics-port',
    '0',
    '--metrics-host',
    '127.0.0.1',
    '--log-level',
    'warn',
    '--resync-period',
    String(RESYNC_SECONDS),
  ],
  { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...imageEnv } },
);
/** Set once the bench stops the operator itself. */
let stopping = false;
console.log(
  `operator: node ${[...imageNodeFlags, ...extraNodeFlags].join(' ')} dist/src/cli/main.js run, environment ${JSON.stringify(imageEnv)}`,
);
try {
  const metricsUrl = await new Promise<string>((resolve, reject) => {
    let seen = '';
    operator.stderr.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /serving \/metrics, \/healthz and \/readyz on (http:\/\/\S+)/.exec(seen);
      if (match?.[1]) resolve(match[1]);
    });
    operator.once('exit', (code) => reject(new Error(`the operator exited (${String(code)}): ${seen}`)));
  });
  // Its last words, should it die mid-run (the run then fails on a refused scrape).
  let lastWords = '';
  operator.stderr.on('data', (chunk: Buffer) => {
    lastWords = (lastWords + chunk.toString()).slice(-4_000);
  });
  operator.once('exit', (code, signal) => {
    if (!stopping) console.error(`the operator exited (${String(code ?? signal)}); its last output:\n${lastWords}`);
  });
  await installKasprAppCrd(client);
  await client.create(ResourceTypes.Namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  const etcdBefore = await etcdDbBytes();

  console.log(`operator RSS idle: ${rssMiB(operator.pid!).toFixed(0)} MiB (${rssParts(operator.pid!)})`);
  const convergeFirst = await createAndConverge(client, 0, FIRST_BATCH);
  console.log(
    `${FIRST_BATCH} KasprApps converged in ${convergeFirst.toFixed(1)} s (target < 60 s; created and reconciled, 7 children + status each)`,
  );

  // Steady state: let the operator go quiet, then watch one full resync of every app (not worth the wait with a
  // resync period of minutes).
  await quiet(metricsUrl);
  if (RESYNC_SECONDS <= 60) {
    const before = await scrape(metricsUrl);
    await waitUntil(
      async () => (await scrape(metricsUrl)).reconciles >= before.reconciles + FIRST_BATCH,
      (RESYNC_SECONDS + 60) * 1000,
    );
    const after = await scrape(metricsUrl);
    console.log(
      `steady-state resync of ${FIRST_BATCH} apps: ${after.mutating - before.mutating} mutating requests ` +
        `(${((after.mutating - before.mutating) / FIRST_BATCH).toFixed(2)} per app; target 0)`,
    );
  }

  await outage(metricsUrl, operator.pid!);
  await outageMidConvergence(metricsUrl, operator.pid!);

  const convergeRest = await createAndConverge(client, 2 * FIRST_BATCH, TOTAL);
  console.log(
    `${TOTAL - 2 * FIRST_BATCH} more KasprApps converged in ${convergeRest.toFixed(1)} s ` +
      `(${TOTAL} in all; target for 5,000: 10 min)`,
  );
  await quiet(metricsUrl);
  await steadyState(metricsUrl, operator.pid!);
  const etcdAfter = await etcdDbBytes();
  console.log(
    `etcd database ${(etcdAfter / 2 ** 20).toFixed(1)} MiB with ${TOTAL} apps: ` +
      `${((etcdAfter - etcdBefore) / TOTAL / 1024).toFixed(1)} KiB per app (etcd_mvcc_db_total_size_in_bytes, before compaction); ` +
      `one object as JSON: ${await objectSizes()}`,
  );
  // RSS moves with garbage collection: sample the settled operator for 30 s and report the median, with the peak of
  // the whole run (VmHWM) beside it.
  const samples: number[] = [];
  for (let i = 0; i < 30; i++) {
    samples.push(rssMiB(operator.pid!));
    await new Promise((done) => setTimeout(done, 1_000));
  }
  const memory = await scrape(metricsUrl);
  const median = [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? 0;
  console.log(
    `operator RSS with ${TOTAL} KasprApps: median ${median.toFixed(0)} MiB over 30 s (min ${Math.min(...samples).toFixed(0)}, ` +
      `max ${Math.max(...samples).toFixed(0)}; targets <= 120 MB at 1,000 apps, <= 250 MB at 5,000), peak during the run ${peakMiB(operator.pid!).toFixed(0)} MiB; ` +
      `V8 heap used ${memory.heapUsedMiB.toFixed(0)} of ${memory.heapTotalMiB.toFixed(0)} MiB, external ${memory.externalMiB.toFixed(0)} MiB; ` +
      `now ${rssParts(operator.pid!)}`,
  );

  // A spec change of every app (a new package pin: new packages hash, new pod template), as a fleet-wide rollout
  // would make it: how long until every app's status describes its new generation (children are applied first).
  const changeStarted = performance.now();
  await changePackagesOfAll(client, TOTAL);
  const changesSent = (performance.now() - changeStarted) / 1000;
  await waitConverged(client, TOTAL);
  console.log(
    `spec change of all ${TOTAL} apps applied in ${((performance.now() - changeStarted) / 1000).toFixed(1)} s ` +
      `(the patches took ${changesSent.toFixed(1)} s to send); operator peak RSS now ${peakMiB(operator.pid!).toFixed(0)} MiB`,
  );
  // With `--heapsnapshot-signal=SIGUSR2` among them, a heap snapshot of the operator, after every figure (its
  // directory: --diagnostic-dir, else the working directory). Node writes it before it answers anything again.
  if (extraNodeFlags.includes('--heapsnapshot-signal=SIGUSR2')) {
    operator.kill('SIGUSR2');
    await new Promise((done) => setTimeout(done, 1_000));
    await metricsText(metricsUrl);
    console.log('heap snapshot written');
  }
} finally {
  stopping = true;
  if (operator.exitCode === null && operator.signalCode === null) {
    operator.kill('SIGTERM');
    await new Promise((done) => operator.once('exit', done));
  }
  client.close();
  await controlPlane.stop();
  rmSync(root, { recursive: true, force: true });
}

/**
 * Kills the kube-apiserver for 30 s under the settled operator: its RSS before (median), at its peak from the kill
 * until it is quiet again (VmHWM, reset at the kill), and after (median); and what it sent while the server was gone.
 */
async function outage(url: string, pid: number): Promise<void> {
  const steadyBefore = await medianRssMiB(pid, 10);
  const before = await scrape(url);
  // Resets VmHWM to the current RSS (proc(5), clear_refs), so the peak is this scenario's own.
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const trace = traceMemory(url, pid);
  const killed = performance.now();
  await controlPlane.restartApiServer({ downMs: OUTAGE_SECONDS * 1000, kill: true });
  const down = (performance.now() - killed) / 1000;
  const during = await scrape(url);
  await quiet(url);
  const recovered = (performance.now() - killed) / 1000 - down;
  const memory = await trace.stop();
  const peak = peakMiB(pid);
  const steadyAfter = await medianRssMiB(pid, 10);
  console.log(
    `apiserver killed for ${OUTAGE_SECONDS} s (down ${down.toFixed(1)} s with its restart) under ${FIRST_BATCH} apps: ` +
      `${during.requests - before.requests} requests meanwhile (the watches the kill broke included; ${during.unanswered - before.unanswered} unanswered, ` +
      `${during.mutating - before.mutating} mutating), quiet again ${recovered.toFixed(1)} s after it was back; ` +
      `RSS steady ${steadyBefore.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB, steady ${steadyAfter.toFixed(0)} MiB after; ${memory}`,
  );
}

/**
 * The issue-17 scenario: the apiserver killed for 30 s while 200 new apps converge (created, then the kill before
 * the operator has caught up with them). RSS steady before, peak from the first create until quiet again, steady
 * after; requests while the server was gone; how long until every app had converged.
 */
async function outageMidConvergence(url: string, pid: number): Promise<void> {
  const steadyBefore = await medianRssMiB(pid, 10);
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
  const trace = traceMemory(url, pid);
  const started = performance.now();
  await createApps(client, FIRST_BATCH, 2 * FIRST_BATCH);
  const convergedAtKill = (await convergedApps(client)) - FIRST_BATCH;
  const before = await scrape(url);
  const peakBefore = peakMiB(pid);
  await controlPlane.restartApiServer({ downMs: OUTAGE_SECONDS * 1000, kill: true });
  const during = await scrape(url);
  const back = performance.now();
  await waitConverged(client, 2 * FIRST_BATCH);
  const converged = (performance.now() - back) / 1000;
  await quiet(url);
  const memory = await trace.stop();
  const peak = peakMiB(pid);
  const steadyAfter = await medianRssMiB(pid, 10);
  console.log(
    `apiserver killed for ${OUTAGE_SECONDS} s while ${FIRST_BATCH} new apps converged (${convergedAtKill} of them done at the kill, ` +
      `created in ${((performance.now() - started) / 1000 - converged).toFixed(0)} s before): ` +
      `${during.requests - before.requests} requests meanwhile (${during.unanswered - before.unanswered} unanswered, ` +
      `${during.mutating - before.mutating} mutating); all converged ${converged.toFixed(1)} s after it was back; ` +
      `RSS steady ${steadyBefore.toFixed(0)} MiB before, peak ${peakBefore.toFixed(0)} MiB until the kill and ` +
      `${peak.toFixed(0)} MiB in all, steady ${steadyAfter.toFixed(0)} MiB after; ${memory}`,
  );
}

/**
 * Samples the operator's memory twice a second until `stop`: its RSS (/proc) beside what process.memoryUsage() says
 * of it (its /metrics: the V8 heap, and external memory, which holds Buffers), so that a peak can be told apart as
 * heap, buffers, or neither (native memory: the allocator's free lists, sockets, TLS, the node binary's pages).
 * Describes the first sample and the one with the highest RSS, and the highest heap and external memory seen. The
 * samples can miss a spike shorter than half a second: VmHWM does not.
 */
function traceMemory(url: string, pid: number): { stop(): Promise<string> } {
  const samples: { rss: number; heapTotal: number; heapUsed: number; external: number }[] = [];
  // Mutated by stop(), hence an object: a `let` would look constant to the type checker.
  const state = { running: true };
  const sampling = (async () => {
    while (state.running) {
      const rss = rssMiB(pid);
      const metrics = await scrape(url);
      samples.push({
        rss,
        heapTotal: metrics.heapTotalMiB,
        heapUsed: metrics.heapUsedMiB,
        external: metrics.externalMiB,
      });
      await new Promise((done) => setTimeout(done, 500));
    }
  })();
  return {
    stop: async () => {
      state.running = false;
      await sampling;
      const top = samples.reduce((a, b) => (b.rss > a.rss ? b : a));
      const first = samples[0] ?? top;
      const max = (field: 'heapTotal' | 'external'): string => Math.max(...samples.map((s) => s[field])).toFixed(0);
      const parts = (sample: typeof top): string =>
        `V8 heap ${sample.heapUsed.toFixed(0)} used of ${sample.heapTotal.toFixed(0)} MiB, external ${sample.external.toFixed(0)} MiB, ` +
        `the rest ${(sample.rss - sample.heapTotal - sample.external).toFixed(0)} MiB`;
      return (
        `sampled: RSS ${first.rss.toFixed(0)} MiB at first (${parts(first)}), ${top.rss.toFixed(0)} MiB at most (${parts(top)}); ` +
        `heap at most ${max('heapTotal')} MiB, external at most ${max('external')} MiB`
      );
    },
  };
}

/**
 * The settled operator over STEADY_SECONDS: CPU seconds (utime + stime from /proc), the reconciles (resyncs) it ran
 * and the CPU per reconcile (all of the window's CPU over them: an upper bound), and the requests it sent, by verb.
 * With the bench's resync period (RESYNC_SECONDS, 20 s unless told) this is the worst case; the figure per reconcile
 * gives the cost at any other period.
 */
async function steadyState(url: string, pid: number): Promise<void> {
  const before = await scrape(url);
  const cpuBefore = cpuSeconds(pid);
  await new Promise((done) => setTimeout(done, STEADY_SECONDS * 1000));
  const cpu = cpuSeconds(pid) - cpuBefore;
  const after = await scrape(url);
  const reconciles = after.reconciles - before.reconciles;
  const verbs = Object.entries(after.byVerb)
    .map(([verb, count]) => [verb, count - (before.byVerb[verb] ?? 0)] as const)
    .filter(([, count]) => count > 0)
    .map(([verb, count]) => `${verb} ${count}`);
  console.log(
    `steady state with ${TOTAL} apps over ${STEADY_SECONDS} s (resync every ${RESYNC_SECONDS} s): ` +
      `${cpu.toFixed(1)} CPU seconds (${((cpu / STEADY_SECONDS) * 100).toFixed(2)}% of a core; target <= 1% at 1,000), ` +
      `${reconciles} reconciles (${reconciles > 0 ? ((cpu * 1000) / reconciles).toFixed(2) : '-'} ms of CPU each at most), ` +
      `requests by verb: ${verbs.join(', ') || 'none'} (${after.mutating - before.mutating} mutating; target 0)`,
  );
}

/** Seconds of CPU the process used so far, user and system (proc(5), fields 14 and 15, in clock ticks). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);
}

async function etcdDbBytes(): Promise<number> {
  const text = await (await fetch(`${controlPlane.etcdUrl}/metrics`)).text();
  return Number(/^etcd_mvcc_db_total_size_in_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
}

/** Bytes of one app's pod, StatefulSet and ControllerRevision as the apiserver serves them (JSON). */
async function objectSizes(): Promise<string> {
  const one = async (type: ResourceType): Promise<string> => {
    const list = await client.list(type, { namespace, limit: 1 });
    const item = list.items[0];
    return `${type.kind} ${item === undefined ? '(none)' : `${(JSON.stringify(item).length / 1024).toFixed(1)} KiB`}`;
  };
  return (
    await Promise.all([one(ResourceTypes.Pod), one(ResourceTypes.StatefulSet), one(ResourceTypes.ControllerRevision)])
  ).join(', ');
}

async function medianRssMiB(pid: number, seconds: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < seconds; i++) {
    samples.push(rssMiB(pid));
    await new Promise((done) => setTimeout(done, 1_000));
  }
  return [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? 0;
}

async function createAndConverge(kube: KubeClient, from: number, to: number): Promise<number> {
  const started = performance.now();
  await createApps(kube, from, to);
  await waitConverged(kube, to);
  return (performance.now() - started) / 1000;
}

async function createApps(kube: KubeClient, from: number, to: number): Promise<void> {
  const names = Array.from({ length: to - from }, (_, i) => appName(from + i));
  // A few creates in flight at a time, as a deploy pipeline would.
  for (let i = 0; i < names.length; i += 10) {
    await Promise.all(
      names.slice(i, i + 10).map((name) =>
        kube.create(
          KasprAppResource,
          kasprApp(namespace, name, {
            replicas: 2,
            pythonPackages: { packages: ['requests==2.31.0'], indexUrl: 'http://127.0.0.1:9/simple' },
          }),
        ),
      ),
    );
  }
}

/** Pins another version of the apps' package, a few patches in flight at a time. */
async function changePackagesOfAll(kube: KubeClient, apps: number): Promise<void> {
  const patch = [{ op: 'replace', path: '/spec/pythonPackages/packages', value: ['requests==2.32.3'] }];
  for (let i = 0; i < apps; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, apps - i) }, (_, j) =>
        kube.patch(KasprAppResource, { namespace, name: appName(i + j) }, patch, { kind: 'json' }),
      ),
    );
  }
}

function appName(index: number): string {
  return `app-${String(index).padStart(4, '0')}`;
}

/** Apps whose status describes their spec. */
async function convergedApps(kube: KubeClient): Promise<number> {
  const apps = await listAll<KasprApp>(kube, KasprAppResource, { namespace });
  return apps.items.filter(
    (a) => a.status?.observedGeneration === a.metadata.generation && a.status?.pythonPackages !== undefined,
  ).length;
}

async function waitConverged(kube: KubeClient, apps: number): Promise<void> {
  await waitUntil(
    async () => {
      const statefulSets = await listAll(kube, ResourceTypes.StatefulSet, { namespace });
      return (await convergedApps(kube)) >= apps && statefulSets.items.length >= apps;
    },
    // Five minutes, and more for thousands of apps on a loaded machine.
    Math.max(300_000, apps * 600),
  );
}

interface Scrape {
  /** Every request, watches included. */
  readonly requests: number;
  /** Requests that got no HTTP answer. */
  readonly unanswered: number;
  readonly mutating: number;
  readonly byVerb: Readonly<Record<string, number>>;
  readonly reconciles: number;
  readonly heapUsedMiB: number;
  readonly heapTotalMiB: number;
  readonly externalMiB: number;
}

async function scrape(url: string): Promise<Scrape> {
  const text = await metricsText(url);
  const sum = (pattern: RegExp): number => [...text.matchAll(pattern)].reduce((total, m) => total + Number(m[1]), 0);
  // client-go's and controller-runtime's names (src/runtime/metrics.ts); labels matched by name, in any order.
  const samples = (metric: string): { labels: Record<string, string>; value: number }[] =>
    [...text.matchAll(new RegExp(`^${metric}\\{([^}]*)\\} (\\S+)$`, 'gm'))].map((m) => ({
      labels: Object.fromEntries(
        [...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l): [string, string] => [l[1] ?? '', l[2] ?? '']),
      ),
      value: Number(m[2]),
    }));
  const requests = samples('rest_client_requests_total');
  const total = (keep: (labels: Record<string, string>) => boolean): number =>
    requests.filter((r) => keep(r.labels)).reduce((sum, r) => sum + r.value, 0);
  return {
    requests: total(() => true),
    unanswered: total((l) => l.code === '<error>'),
    mutating: total((l) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(l.method ?? '')),
    byVerb: Object.fromEntries(
      ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((verb) => [verb, total((l) => l.method === verb)]),
    ),
    reconciles: samples('controller_runtime_reconcile_total')
      .filter((r) => r.labels.controller === 'kasprapp')
      .reduce((sum, r) => sum + r.value, 0),
    heapUsedMiB: sum(/^nodejs_heap_size_used_bytes (\S+)$/gm) / 2 ** 20,
    heapTotalMiB: sum(/^nodejs_heap_size_total_bytes (\S+)$/gm) / 2 ** 20,
    externalMiB: sum(/^nodejs_external_memory_bytes (\S+)$/gm) / 2 ** 20,
  };
}

/**
 * The operator's /metrics. On a loaded machine the server may close an idle keep-alive connection just as the next
 * scrape reuses it (ECONNRESET): such a scrape is sent again, on a new connection.
 */
async function metricsText(url: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(`${url}/metrics`)).text();
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

/** Waits until no mutating request has been sent for 5 s (the operator has nothing left to do). */
async function quiet(url: string): Promise<void> {
  let last = (await scrape(url)).mutating;
  let since = performance.now();
  await waitUntil(async () => {
    const now = (await scrape(url)).mutating;
    if (now !== last) {
      last = now;
      since = performance.now();
    }
    return performance.now() - since >= 5_000;
  }, 300_000);
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 500));
  }
}

function statusMiB(pid: number, field: string): number {
  const kib = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib ?? 0) / 1024;
}

function rssMiB(pid: number): number {
  return statusMiB(pid, 'VmRSS');
}

/**
 * RSS as anonymous memory (heap, buffers, the allocator's) and file-backed pages: those are the node binary's code
 * and data that the process ran or read, shared with any other node process and reclaimable by the kernel.
 */
function rssParts(pid: number): string {
  return `anonymous ${statusMiB(pid, 'RssAnon').toFixed(0)} MiB, file-backed ${statusMiB(pid, 'RssFile').toFixed(0)} MiB`;
}

function peakMiB(pid: number): number {
  return statusMiB(pid, 'VmHWM');
}
