// Launcher for a real local cluster: etcd, kube-apiserver and kube-controller-manager built by tools/controlplane,
// each a separate process on free 127.0.0.1 ports, with certificates made for this run only; and, with `node`, a
// kube-scheduler and a real node (./node.ts: kubelet, kube-proxy, containerd) with local volumes. Without a node
// there is no kubelet and no scheduler: test/support/pod-simulator.ts stands in for both.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { KubeClient, type ClientOptions, type KubeObject } from '../../src/runtime/kube/client.ts';
import { loadKubeConfigFile } from '../../src/runtime/kube/config.ts';
import type { ResourceType } from '../../src/runtime/kube/resources.ts';
import { startLocalVolumes, localVolumeProvisioner, type LocalVolumes } from './local-volumes.ts';
import { inPrivateNetworkNamespace } from './netns.ts';
import { nodeNetwork, setUpNodeNetwork, startNode, type Image, type RealNode } from './node.ts';
import { describeExit, logTail, waitReady, type Component } from './components.ts';
import { spawnTracked } from './processes.ts';

export interface ControlPlaneOptions {
  /** Certificates, etcd data, kubeconfig and component logs go here; created if missing. */
  readonly rootDir: string;
  /**
   * Where the binaries are; by default KASPROP_CONTROLPLANE_BIN_DIR, else whatever tools/controlplane/build.sh
   * builds or finds in its cache.
   */
  readonly binDir?: string;
  /** Deadline for each component to become ready. */
  readonly readyTimeoutMs?: number;
  /** Progress and diagnostics, one line at a time; defaults to stderr. */
  readonly log?: (line: string) => void;
  /**
   * A scheduler and a real node with these images, so that pods run in containers. Needs root and a private
   * network namespace (the caller enters it: see ./netns.ts).
   */
  readonly node?: { readonly images: readonly Image[]; readonly sandboxImage: string };
}

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  readonly server: string;
  /** etcd's client URL, http://127.0.0.1:<port> (its /metrics too). */
  readonly etcdUrl: string;
  /** Admin kubeconfig (client certificate in group system:masters). */
  readonly kubeconfigPath: string;
  readonly rootDir: string;
  /** Where pods run: on a real node, or nowhere until a pod simulator binds them. */
  readonly pods: 'node' | 'simulator';
  /** Contents of the build's VERSIONS file ("kubernetes v1.x.y" ...). */
  readonly versions: string;
  /** Seconds from starting etcd until every component was ready (not counting the build step). */
  readonly startSeconds: number;
  /** A new admin client; the caller closes it. */
  client(options?: ClientOptions): KubeClient;
  /**
   * Stops the kube-apiserver (SIGTERM, or SIGKILL with `kill`: no graceful end of watches), keeps it down for
   * `downMs`, starts it again on the same port and waits until it is ready: clients see refused connections, then a
   * server whose watches start over.
   */
  restartApiServer(options?: { downMs?: number; kill?: boolean }): Promise<void>;
  /** Stops the components (SIGTERM, then SIGKILL after a deadline) and, unless told otherwise, removes rootDir. */
  stop(options?: { removeFiles?: boolean }): Promise<void>;
}

/** The StorageClass every claim without an explicit class gets: local volumes on a real node, else the simulator's. */
export const defaultStorageClassName = 'standard';
export const simulatedProvisioner = 'pod-simulator.kasprop.test';

/**
 * Controllers the tests rely on, and what they in turn need:
 * - garbagecollector, statefulset, namespace: the behaviour under test;
 * - serviceaccount: creates each namespace's `default` ServiceAccount, without which pods are not admitted;
 * - root-ca-cert-publisher: the kube-root-ca.crt ConfigMap that the injected service-account volume refers to;
 * - pvc-protection, pv-protection: the StorageObjectInUseProtection admission plugin puts finalizers on every claim
 *   and volume, and only these controllers take them off (without them, namespaces never finish deleting);
 * - horizontalpodautoscaling: scales to minReplicas even without a metrics API, as the operator's HPA expects.
 * Volume binding and expansion are left to the pod simulator, which plays the external provisioner.
 * With a real node, every controller a cluster runs by default (nodelifecycle lifts the new node's not-ready taint,
 * the PV controller binds local volumes, endpoints feed kube-proxy, ...), less the bootstrap-token ones.
 */
const controllers = [
  'garbagecollector',
  'statefulset',
  'namespace',
  'serviceaccount',
  'root-ca-cert-publisher',
  'pvc-protection',
  'pv-protection',
  'horizontalpodautoscaling',
];

const nodeControllers = ['*', '-bootstrapsigner', '-tokencleaner'];

export const binDirEnv = 'KASPROP_CONTROLPLANE_BIN_DIR';
const repoRoot = resolve(import.meta.dirname, '../..');
const buildScript = join(repoRoot, 'tools/controlplane/build.sh');
const stopGraceMs = 10_000;

/** Runs tools/controlplane/build.sh (a cache hit costs milliseconds) and returns the bin directory it printed. */
export async function buildControlPlane(log: (line: string) => void = stderrLine): Promise<string> {
  return runBuildScript(buildScript, 'controlplane build', log);
}

/** Runs one of tools/'s cached build scripts, its progress to `log`, and returns the path its last line printed. */
export async function runBuildScript(
  buildScript: string,
  label: string,
  log: (line: string) => void = stderrLine,
): Promise<string> {
  const build = spawnTracked('bash', [buildScript], {
    cwd: repoRoot,
    env: process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  build.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const progress = build.child.stderr;
  if (progress) {
    for await (const line of createInterface({ input: progress })) log(`[${label}] ${line}`);
  }
  const exit = await build.exited;
  if (exit.code !== 0) {
    throw new Error(`${buildScript} failed (${describeExit(exit)}); its output is above`, { cause: exit.error });
  }
  const printed = stdout.trim().split('\n').at(-1) ?? '';
  if (printed === '') throw new Error(`${buildScript} printed no path`);
  return printed;
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const log = options.log ?? stderrLine;
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  const rootDir = resolve(options.rootDir);
  mkdirSync(rootDir, { recursive: true });
  const binDir = options.binDir ?? process.env[binDirEnv] ?? (await buildControlPlane(log));
  const versions = readFileSync(join(binDir, 'VERSIONS'), 'utf8').trim();
  const binary = join(binDir, 'controlplane');
  const withNode = options.node !== undefined;
  if (withNode) {
    if (!inPrivateNetworkNamespace()) {
      throw new Error('a real node starts only inside a private network namespace (unshare --net --fork)');
    }
    setUpNodeNetwork();
  }

  const started = performance.now();
  const components: Component[] = [];
  const node: { current?: RealNode; volumes?: LocalVolumes } = {};
  let stopping = false;
  const stopComponents = async (): Promise<void> => {
    stopping = true;
    await node.volumes?.stop();
    // Controllers and scheduler first, so that nothing recreates the pods the node's clean-up kills; then the node
    // while the apiserver still answers it; then the apiserver and etcd, which shut down cleanly only in that order.
    const backends = new Set(['etcd', 'kube-apiserver']);
    for (const component of components.toReversed().filter((c) => !backends.has(c.name))) {
      await component.process.terminate(stopGraceMs);
    }
    await node.current?.stop();
    for (const component of components.toReversed().filter((c) => backends.has(c.name))) {
      await component.process.terminate(stopGraceMs);
    }
  };
  const restarting = new Set<string>();
  const launch = (name: string, args: string[]): Component => {
    const dir = join(rootDir, name);
    mkdirSync(dir, { recursive: true });
    const logPath = join(rootDir, `${name}.log`);
    const logFd = openSync(logPath, 'a');
    // Not detached: an interrupt of the test run (Ctrl-C) reaches the components directly.
    const process_ = spawnTracked(binary, [name, ...args], {
      cwd: dir,
      env: componentEnv(),
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    const component = { name, logPath, process: process_ };
    components.push(component);
    void process_.exited.then((exit) => {
      if (!stopping && !restarting.has(name))
        log(`${name} exited unexpectedly (${describeExit(exit)})\n${logTail(logPath)}`);
    });
    return component;
  };

  try {
    const pki = writePki(join(rootDir, 'pki'), withNode);
    const [etcdClientPort, etcdPeerPort, apiserverPort, kcmPort, schedulerPort] = await freePorts(5);
    const server = `https://127.0.0.1:${apiserverPort}`;
    const kubeconfigPath = join(rootDir, 'admin.kubeconfig');
    writeKubeconfig(kubeconfigPath, server, pki.caCert, pki.admin);
    const kcmKubeconfig = join(rootDir, 'kube-controller-manager.kubeconfig');
    writeKubeconfig(kcmKubeconfig, server, pki.caCert, pki.controllerManager);

    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = launch('etcd', [
      '--name=default',
      `--data-dir=${join(rootDir, 'etcd', 'data')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      // A throwaway store: durability is worth nothing here, and fsync dominates etcd's latency on slow disks.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitReady(etcd, readyTimeoutMs, () => httpGet(`${etcdUrl}/health`));

    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      ...(withNode
        ? [
            // Pods (the operator's own, from deploy/) reach it through the `kubernetes` Service: kube-proxy sends
            // 10.96.0.1:443 to the advertised node address. Every address here is inside the private namespace.
            '--bind-address=0.0.0.0',
            `--advertise-address=${nodeNetwork.nodeIP}`,
            `--kubelet-client-certificate=${pki.node?.apiserverKubeletClient.cert ?? ''}`,
            `--kubelet-client-key=${pki.node?.apiserverKubeletClient.key ?? ''}`,
            '--kubelet-preferred-address-types=InternalIP',
          ]
        : [
            '--bind-address=127.0.0.1',
            '--advertise-address=127.0.0.1',
            // The endpoint reconciler refuses a loopback advertise address, and nothing here needs the
            // `kubernetes` Service's endpoints (no pod reaches the API server through them).
            '--endpoint-reconciler-type=none',
          ]),
      `--secure-port=${apiserverPort}`,
      `--cert-dir=${join(rootDir, 'kube-apiserver')}`,
      `--tls-cert-file=${pki.apiserver.cert}`,
      `--tls-private-key-file=${pki.apiserver.key}`,
      `--client-ca-file=${pki.caCert}`,
      // Node authorization and NodeRestriction: the kubelet gets exactly a kubelet's rights.
      withNode ? '--authorization-mode=Node,RBAC' : '--authorization-mode=RBAC',
      `--service-cluster-ip-range=${nodeNetwork.serviceSubnet}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${pki.serviceAccountPrivateKey}`,
      '--allow-privileged=true',
      // As in hardened clusters (and OpenShift): setting blockOwnerDeletion needs update on the owner's finalizers,
      // so a missing RBAC rule for it shows up in tests.
      `--enable-admission-plugins=OwnerReferencesPermissionEnforcement${withNode ? ',NodeRestriction' : ''}`,
      '--profiling=false',
    ];
    const startApiServer = async (): Promise<void> => {
      const apiserver = launch('kube-apiserver', apiserverArgs);
      const probe = new KubeClient(loadKubeConfigFile(kubeconfigPath), { requestTimeoutMs: 5_000 });
      try {
        await waitReady(apiserver, readyTimeoutMs, () =>
          probe.request<unknown>({ verb: 'GET', path: '/readyz', timeoutMs: 5_000 }),
        );
      } finally {
        probe.close();
      }
    };
    await startApiServer();
    const admin = new KubeClient(loadKubeConfigFile(kubeconfigPath), { requestTimeoutMs: 5_000 });
    try {
      const kcm = launch('kube-controller-manager', [
        `--kubeconfig=${kcmKubeconfig}`,
        `--controllers=${(withNode ? nodeControllers : controllers).join(',')}`,
        // Each controller acts with its own service account and RBAC role, as in a real cluster, so a missing
        // permission shows up here rather than in production.
        '--use-service-account-credentials=true',
        `--root-ca-file=${pki.caCert}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        `--cert-dir=${join(rootDir, 'kube-controller-manager')}`,
        // Volume plugins probe (and create) /usr/libexec/kubernetes/... otherwise; nothing may be written outside rootDir.
        `--flex-volume-plugin-dir=${join(rootDir, 'kube-controller-manager', 'flexvolume')}`,
        '--profiling=false',
      ]);
      await waitReady(kcm, readyTimeoutMs, () => httpGet(`https://127.0.0.1:${kcmPort}/healthz`));

      await admin.apply(storageClassType, defaultStorageClass(withNode), { fieldManager: 'kasprop-test' });
      if (options.node !== undefined && pki.node !== undefined) {
        const kubeconfigOf = (name: string, user: KeyPair): string => {
          const path = join(rootDir, `${name}.kubeconfig`);
          writeKubeconfig(path, server, pki.caCert, user);
          return path;
        };
        const schedulerKubeconfig = kubeconfigOf('kube-scheduler', pki.node.scheduler);
        const scheduler = launch('kube-scheduler', [
          `--kubeconfig=${schedulerKubeconfig}`,
          `--authentication-kubeconfig=${schedulerKubeconfig}`,
          `--authorization-kubeconfig=${schedulerKubeconfig}`,
          '--leader-elect=false',
          '--bind-address=127.0.0.1',
          `--secure-port=${schedulerPort}`,
          '--profiling=false',
        ]);
        await waitReady(scheduler, readyTimeoutMs, () => httpGet(`https://127.0.0.1:${schedulerPort}/healthz`));
        node.current = await startNode({
          rootDir: join(rootDir, 'node'),
          clusterDir: rootDir,
          binDir,
          images: options.node.images,
          sandboxImage: options.node.sandboxImage,
          caCert: pki.caCert,
          kubeletKubeconfig: kubeconfigOf('kubelet', pki.node.kubelet),
          kubeProxyKubeconfig: kubeconfigOf('kube-proxy', pki.node.kubeProxy),
          client: admin,
          readyTimeoutMs,
          log,
        });
        node.volumes = startLocalVolumes({
          kubeconfigPath,
          rootDir: join(rootDir, 'node', 'volumes'),
          nodeName: node.current.name,
          log,
        });
      }
    } finally {
      admin.close();
    }

    const startSeconds = (performance.now() - started) / 1000;
    const what = withNode ? `cluster with node ${nodeNetwork.nodeName}` : 'control plane';
    log(`${what} ready in ${startSeconds.toFixed(1)} s at ${server} (${versions.split('\n').join(', ')})`);
    return {
      server,
      etcdUrl,
      kubeconfigPath,
      rootDir,
      pods: withNode ? 'node' : 'simulator',
      versions,
      startSeconds,
      client: (clientOptions) => new KubeClient(loadKubeConfigFile(kubeconfigPath), clientOptions),
      restartApiServer: async ({ downMs = 1_000, kill = false } = {}) => {
        const index = components.findIndex((c) => c.name === 'kube-apiserver');
        const current = components[index];
        if (current === undefined) throw new Error('the kube-apiserver is not running');
        restarting.add(current.name);
        try {
          if (kill) {
            current.process.child.kill('SIGKILL');
            await current.process.exited;
          } else {
            await current.process.terminate(stopGraceMs);
          }
          components.splice(index, 1);
          await new Promise((done) => setTimeout(done, downMs));
          await startApiServer();
        } finally {
          restarting.delete(current.name);
        }
      },
      stop: async ({ removeFiles = true } = {}) => {
        await stopComponents();
        if (removeFiles) rmSync(rootDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stopComponents();
    throw error;
  }
}

/** GET that succeeds on 2xx only; https certificates are not checked (the controller manager's is self-signed). */
async function httpGet(url: string): Promise<void> {
  const transport = url.startsWith('https:') ? https : http;
  await new Promise<void>((done, fail) => {
    const request = transport.get(url, { rejectUnauthorized: false, timeout: 2_000 }, (response) => {
      response.resume();
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) done();
      else fail(new Error(`${url}: HTTP ${status}`));
    });
    request.on('timeout', () => request.destroy(new Error(`${url}: no answer`)));
    request.on('error', fail);
  });
}

/** Components get a small, fixed environment: the test process's (proxies, PIP_*, KUBECONFIG...) must not leak in. */
function componentEnv(): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/' };
}

async function freePorts(count: number): Promise<number[]> {
  // Held open together so that the same port is not handed out twice.
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((done, fail) => {
          const server = net.createServer();
          server.once('error', fail);
          server.listen(0, '127.0.0.1', () => done(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as net.AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  return ports;
}

// ---- certificates ----------------------------------------------------------------------------------------------
// Made with openssl (node:crypto cannot issue X.509 certificates); the service-account key pair with node:crypto.
// ECDSA P-256 keys: generated in milliseconds, and accepted by every component.

interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

interface Pki {
  readonly caCert: string;
  readonly apiserver: KeyPair;
  readonly admin: KeyPair;
  readonly controllerManager: KeyPair;
  readonly serviceAccountPrivateKey: string;
  readonly serviceAccountPublicKey: string;
  /** The scheduler's and the node's identities, with a node only. */
  readonly node?: {
    readonly scheduler: KeyPair;
    readonly kubelet: KeyPair;
    readonly kubeProxy: KeyPair;
    readonly apiserverKubeletClient: KeyPair;
  };
}

const validDays = '30';

function writePki(dir: string, withNode: boolean): Pki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // An empty configuration, so that no distribution default (e.g. CA:TRUE on every req -x509) sneaks in.
  const config = join(dir, 'openssl.cnf');
  writeFileSync(config, '[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n');
  const keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca: KeyPair = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') };
  openssl([
    'req',
    '-config',
    config,
    '-x509',
    ...keyArgs,
    '-keyout',
    ca.key,
    '-out',
    ca.cert,
    '-days',
    validDays,
    '-subj',
    '/CN=kasprop-test-ca',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  const issue = (name: string, subject: string, extensions: string[]): KeyPair => {
    const pair = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    openssl([
      'req',
      '-config',
      config,
      '-x509',
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      ...keyArgs,
      '-keyout',
      pair.key,
      '-out',
      pair.cert,
      '-days',
      validDays,
      '-subj',
      subject,
      '-addext',
      'basicConstraints=critical,CA:FALSE',
      '-addext',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      ...extensions.flatMap((extension) => ['-addext', extension]),
    ]);
    return pair;
  };
  const apiserver = issue('kube-apiserver', '/CN=kube-apiserver', [
    'extendedKeyUsage=serverAuth',
    // 10.96.0.1 is the `kubernetes` Service's ClusterIP in --service-cluster-ip-range; pods reach the node address.
    `subjectAltName=IP:127.0.0.1,IP:10.96.0.1,IP:${nodeNetwork.nodeIP},DNS:localhost,DNS:kubernetes,` +
      'DNS:kubernetes.default,' +
      'DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
  ]);
  const admin = issue('admin', '/O=system:masters/CN=kasprop-test-admin', ['extendedKeyUsage=clientAuth']);
  // The bootstrap RBAC policy binds this user name to the controller manager's own role.
  const controllerManager = issue('kube-controller-manager', '/CN=system:kube-controller-manager', [
    'extendedKeyUsage=clientAuth',
  ]);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serviceAccountPrivateKey = join(dir, 'service-account.key');
  const serviceAccountPublicKey = join(dir, 'service-account.pub');
  writeFileSync(serviceAccountPrivateKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(serviceAccountPublicKey, publicKey.export({ type: 'spki', format: 'pem' }));
  const client = ['extendedKeyUsage=clientAuth'];
  // User names the bootstrap RBAC policy (and the Node authorizer) know: system:kube-scheduler, system:kube-proxy,
  // system:node:<name> in system:nodes. The apiserver's client for logs and exec is an admin.
  const node = withNode
    ? {
        scheduler: issue('kube-scheduler', '/CN=system:kube-scheduler', client),
        kubelet: issue('kubelet', `/O=system:nodes/CN=system:node:${nodeNetwork.nodeName}`, client),
        kubeProxy: issue('kube-proxy', '/CN=system:kube-proxy', client),
        apiserverKubeletClient: issue('apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver', client),
      }
    : undefined;
  return {
    caCert: ca.cert,
    apiserver,
    admin,
    controllerManager,
    serviceAccountPrivateKey,
    serviceAccountPublicKey,
    ...(node && { node }),
  };
}

function openssl(args: string[]): void {
  // Synchronous on purpose: a handful of sub-10 ms calls, and nothing else can proceed without them.
  const result = execFileSyncQuiet('openssl', args);
  if (result !== undefined) throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${result}`);
}

function execFileSyncQuiet(command: string, args: string[]): string | undefined {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    return undefined;
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString('utf8').trim();
    return stderr || (error instanceof Error ? error.message : String(error));
  }
}

function writeKubeconfig(path: string, server: string, caCertPath: string, user: KeyPair): void {
  const base64 = (file: string): string => readFileSync(file).toString('base64');
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kasprop-test', cluster: { server, 'certificate-authority-data': base64(caCertPath) } }],
    users: [
      { name: 'user', user: { 'client-certificate-data': base64(user.cert), 'client-key-data': base64(user.key) } },
    ],
    contexts: [{ name: 'kasprop-test', context: { cluster: 'kasprop-test', user: 'user', namespace: 'default' } }],
    'current-context': 'kasprop-test',
  };
  writeFileSync(path, stringify(config), { mode: 0o600 });
}

// ---- what a cluster normally has -------------------------------------------------------------------------------

const storageClassType: ResourceType = {
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  plural: 'storageclasses',
  namespaced: false,
};

/**
 * Default and expandable, so that claims without a class are admitted and claim size increases pass admission.
 * Local volumes wait for the pod's node, as local storage must; the simulator binds at once.
 */
function defaultStorageClass(withNode: boolean): KubeObject & Record<string, unknown> {
  return {
    apiVersion: storageClassType.apiVersion,
    kind: storageClassType.kind,
    metadata: {
      name: defaultStorageClassName,
      annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
    },
    provisioner: withNode ? localVolumeProvisioner : simulatedProvisioner,
    allowVolumeExpansion: true,
    reclaimPolicy: 'Delete',
    volumeBindingMode: withNode ? 'WaitForFirstConsumer' : 'Immediate',
  };
}

// ---- small helpers -----------------------------------------------------------------------------------------------

function stderrLine(line: string): void {
  process.stderr.write(line.endsWith('\n') ? line : `${line}\n`);
}
