// A real node for the test cluster: containerd (built by tools/controlplane/build.sh), Debian's runc and CNI plugins,
// and the kubelet and kube-proxy of the control plane's own binary, so pods run in real containers of real images.
//
// Everything runs inside the run's private network namespace (see ./netns.ts): the node's address sits on an empty
// bridge, pods get 10.244.0.0/24 on the CNI bridge cni0 and reach servers of the test run at its gateway, and no
// packet can leave the machine. So several nodes (a test run, and the `kasprop local` one of its tests starts) can
// run side by side: addresses and ports are per namespace, state is under each node's own root, and the kubelet's
// cgroups go under a cgroup root of the node's own. What is machine-wide is a record per running node in /run,
// by which a node that was killed is cleaned up by the next one to start.
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { Node } from 'kubernetes-types/core/v1.js';
import type { KubeClient } from '../../src/runtime/kube/client.ts';
import { ResourceTypes } from '../../src/runtime/kube/resources.ts';
import { waitReady, type Component } from './components.ts';
import { spawnTracked } from './processes.ts';

/** What every node-mode component and test agrees on. */
export const nodeNetwork = {
  nodeName: 'node0',
  /** On the empty bridge node0: the kubelet refuses a loopback node IP. */
  nodeIP: '10.254.0.1',
  podSubnet: '10.244.0.0/24',
  /** cni0's address: where pods reach servers that the test run starts on 0.0.0.0. */
  podGateway: '10.244.0.1',
  serviceSubnet: '10.96.0.0/16',
} as const;

/** Where Debian's packages put what the node needs besides the binaries built by tools/controlplane. */
const runcPath = '/usr/sbin/runc';
const cniBinDir = '/usr/lib/cni';
/** One record per running node, so that the next node to start cleans up after one that was killed. */
const recordsDir = '/run/kasprop/nodes';
/** containerd 2.x puts its shims' sockets here, whatever its configuration says. */
const shimSocketDir = '/run/containerd';
const cgroupMounts = '/sys/fs/cgroup';
const containerLogLinks = '/var/log/containers';

export interface Image {
  readonly archive: string;
  readonly names: readonly string[];
}

export interface NodeOptions {
  /** The run's node directory (containerd's root and state, kubelet root, volumes, logs). */
  readonly rootDir: string;
  /**
   * The directory named in the node's record: a later node that finds this process dead kills every process naming
   * it and unmounts below it, so the whole cluster's directory, not only the node's.
   */
  readonly clusterDir: string;
  /** tools/controlplane/build.sh's bin directory: controlplane (kubelet, kube-proxy), containerd, shim, ctr. */
  readonly binDir: string;
  readonly images: readonly Image[];
  /** The pause image's name, one of `images`. */
  readonly sandboxImage: string;
  readonly caCert: string;
  readonly kubeletKubeconfig: string;
  readonly kubeProxyKubeconfig: string;
  readonly client: KubeClient;
  readonly readyTimeoutMs: number;
  readonly log: (line: string) => void;
}

export interface RealNode {
  readonly name: string;
  /** Stops the kubelet, kube-proxy and containerd, kills what the containers left, unmounts, removes cgroups. */
  stop(): Promise<void>;
}

/** Why a real node cannot run here, or undefined if it can (the Debian packages may still need installing). */
function realNodeUnsupportedReason(): string | undefined {
  if (process.platform !== 'linux') return `a real node needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'a real node needs root (containerd, runc, mounts, cgroups, network namespaces)';
  if (!existsSync('/sys/fs/cgroup/memory') && !existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    return 'no cgroup memory controller is mounted under /sys/fs/cgroup';
  }
  for (const tool of ['unshare', 'ip']) {
    if (!onPath(tool)) return `\`${tool}\` is not installed (util-linux, iproute2)`;
  }
  // Root in a container may still be refused new namespaces.
  try {
    execFileSync('unshare', ['--net', '--', 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const detail = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? String(error);
    return `cannot create a network namespace (unshare --net: ${detail})`;
  }
  return undefined;
}

/** The Debian packages the node needs and does not build: runc, the CNI plugins, iptables (kube-proxy). */
function missingNodePackages(): string[] {
  const missing: string[] = [];
  if (!existsSync(runcPath)) missing.push('runc');
  if (!existsSync(join(cniBinDir, 'bridge'))) missing.push('containernetworking-plugins');
  if (!onPath('iptables-restore')) missing.push('iptables');
  return missing;
}

/**
 * Why this machine cannot run a real node, after installing the Debian packages it lacks (as root, with apt-get);
 * undefined if it can.
 */
export function prepareRealNode(log: (line: string) => void): string | undefined {
  const unsupported = realNodeUnsupportedReason();
  if (unsupported !== undefined) return unsupported;
  const missing = missingNodePackages();
  if (missing.length === 0) return undefined;
  log(`installing Debian packages for the real node: ${missing.join(' ')}`);
  const install = (): void => {
    execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  try {
    try {
      install();
    } catch {
      // A new machine has no package lists yet.
      execFileSync('apt-get', ['update'], { stdio: ['ignore', 'ignore', 'pipe'] });
      install();
    }
  } catch (error) {
    const detail = (error as { stderr?: Buffer }).stderr?.toString().trim().split('\n').at(-1) ?? String(error);
    return `could not install ${missing.join(', ')} with apt-get (${detail})`;
  }
  const still = missingNodePackages();
  return still.length === 0 ? undefined : `still missing after apt-get install: ${still.join(', ')}`;
}

export async function startNode(options: NodeOptions): Promise<RealNode> {
  const { rootDir, binDir, log } = options;
  cleanUpKilledNodes(log);
  const record: NodeRecord = {
    pid: process.pid,
    clusterDir: options.clusterDir,
    cgroupRoot: `/kasprop-${process.pid}-${Date.now().toString(36)}`,
  };
  mkdirSync(recordsDir, { recursive: true });
  const recordPath = join(recordsDir, `${process.pid}.json`);
  writeFileSync(recordPath, JSON.stringify(record));
  const components: Component[] = [];
  const stop = async (): Promise<void> => {
    for (const { process: running } of components.toReversed()) await running.terminate(10_000);
    cleanUpNode(record, log);
    rmSync(recordPath, { force: true });
    for (const dir of [recordsDir, dirname(recordsDir)]) {
      try {
        execFileSync('rmdir', [dir], { stdio: 'ignore' });
      } catch {
        // Another node's record is there.
      }
    }
  };
  try {
    createCgroupRoot(record.cgroupRoot);
    const dirs = {
      containerd: join(rootDir, 'containerd'),
      kubelet: join(rootDir, 'kubelet'),
      cni: join(rootDir, 'cni'),
      logs: join(rootDir, 'logs'),
    };
    for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
    mkdirSync(join(dirs.cni, 'conf'), { recursive: true });
    const socket = join(dirs.containerd, 'containerd.sock');
    writeFileSync(join(dirs.containerd, 'config.toml'), containerdConfig(rootDir, options.sandboxImage));
    writeFileSync(join(dirs.cni, 'conf', '10-pods.conflist'), JSON.stringify(cniConfig(rootDir)));
    writeFileSync(join(rootDir, 'resolv.conf'), '# pods resolve nothing: the network namespace has no uplink\n');
    writeFileSync(join(rootDir, 'kubelet.yaml'), kubeletConfig(rootDir, socket, options.caCert, record.cgroupRoot));

    const launch = (name: string, command: string, args: string[]): Component => {
      const logPath = join(dirs.logs, `${name}.log`);
      const logFd = openSync(logPath, 'a');
      const running = spawnTracked(command, args, {
        cwd: rootDir,
        // containerd finds its shim on PATH; the shim finds runc by the configured BinaryName.
        env: { PATH: `${binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: rootDir },
        stdio: ['ignore', logFd, logFd],
      });
      closeSync(logFd);
      const component = { name, logPath, process: running };
      components.push(component);
      return component;
    };

    const containerd = launch('containerd', join(binDir, 'containerd'), [
      '--config',
      join(dirs.containerd, 'config.toml'),
    ]);
    const ctr = (args: string[]): void => {
      execFileSync(join(binDir, 'ctr'), ['--address', socket, '--namespace', 'k8s.io', ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    };
    await waitReady(containerd, options.readyTimeoutMs, () => {
      ctr(['version']);
      return Promise.resolve();
    });
    for (const image of options.images) {
      ctr(['images', 'import', '--no-unpack=false', image.archive]);
      const [first, ...others] = image.names;
      for (const other of others) if (first !== undefined) ctr(['images', 'tag', '--force', first, other]);
    }

    const kubelet = launch('kubelet', join(binDir, 'controlplane'), [
      'kubelet',
      `--config=${join(rootDir, 'kubelet.yaml')}`,
      `--kubeconfig=${options.kubeletKubeconfig}`,
      `--root-dir=${dirs.kubelet}`,
      `--cert-dir=${join(dirs.kubelet, 'pki')}`,
      `--hostname-override=${nodeNetwork.nodeName}`,
      `--node-ip=${nodeNetwork.nodeIP}`,
    ]);
    launch('kube-proxy', join(binDir, 'controlplane'), [
      'kube-proxy',
      `--kubeconfig=${options.kubeProxyKubeconfig}`,
      `--hostname-override=${nodeNetwork.nodeName}`,
      '--proxy-mode=iptables',
      `--cluster-cidr=${nodeNetwork.podSubnet}`,
      // Inside a network namespace the conntrack table size is the host's business.
      '--conntrack-max-per-core=0',
      '--metrics-bind-address=127.0.0.1:10249',
      '--healthz-bind-address=127.0.0.1:10256',
    ]);
    await waitReady(kubelet, options.readyTimeoutMs, async () => {
      const node = await options.client.get<Node>(ResourceTypes.Node, { name: nodeNetwork.nodeName });
      const ready = node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
      // The node lifecycle controller lifts the not-ready taint a moment after Ready; until then nothing schedules.
      const taints = node?.spec?.taints ?? [];
      if (!ready || taints.length > 0) {
        throw new Error(`node ${nodeNetwork.nodeName}: Ready ${ready}, taints ${JSON.stringify(taints)}`);
      }
    });
    return { name: nodeNetwork.nodeName, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---- configuration ------------------------------------------------------------------------------------------------

function containerdConfig(rootDir: string, sandboxImage: string): string {
  const dir = join(rootDir, 'containerd');
  return `version = 3
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/containerd.sock"
[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"
[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "${sandboxImage}"
[plugins."io.containerd.cri.v1.runtime"]
  enable_selinux = false
  # root here may lack CAP_SYS_RESOURCE: runc could not lower oom_score_adj (the pause container asks for -998)
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "${runcPath}"
        Root = "${dir}/runc"
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["${cniBinDir}"]
    conf_dir = "${rootDir}/cni/conf"
    max_conf_num = 1
`;
}

function cniConfig(rootDir: string): unknown {
  return {
    cniVersion: '1.0.0',
    name: 'pods',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet: nodeNetwork.podSubnet, gateway: nodeNetwork.podGateway }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: join(rootDir, 'cni', 'ipam'),
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

function kubeletConfig(rootDir: string, socket: string, caCert: string, cgroupRoot: string): string {
  return JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // The default since 1.35 refuses cgroup v1 hosts; this machine kind has only v1 controllers (KEP-5573).
    failCgroupV1: false,
    failSwapOn: false,
    cgroupDriver: 'cgroupfs',
    // The node's own: pods' cgroups (kubepods) of two nodes on one machine must not meet.
    cgroupRoot,
    containerRuntimeEndpoint: `unix://${socket}`,
    // The apiserver reaches the kubelet here for logs and exec.
    address: nodeNetwork.nodeIP,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: caCert } },
    authorization: { mode: 'Webhook' },
    clusterDomain: 'cluster.local',
    resolvConf: join(rootDir, 'resolv.conf'),
    rotateCertificates: false,
    serializeImagePulls: false,
    // Images are imported, never pulled: garbage-collecting them would break the next pod.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    // Status changes reach the API within a second or two, so tests wait less.
    syncFrequency: '10s',
    nodeStatusUpdateFrequency: '10s',
    volumePluginDir: join(rootDir, 'kubelet', 'volume-plugins'),
    // Not /var/log/pods: nothing of a node outlives its root.
    podLogsDir: join(rootDir, 'pod-logs'),
  });
}

// ---- network, lock and clean-up -----------------------------------------------------------------------------------

/** Loopback up, and the node's address on its bridge: before the apiserver, which advertises that address. */
export function setUpNodeNetwork(): void {
  ip(['link', 'set', 'lo', 'up']);
  // Asked of `ip`, not /sys/class/net: sysfs shows the namespace of whoever mounted it, not ours.
  const exists = (() => {
    try {
      ip(['link', 'show', 'node0']);
      return true;
    } catch {
      return false;
    }
  })();
  if (!exists) {
    ip(['link', 'add', 'node0', 'type', 'bridge']);
    ip(['addr', 'add', `${nodeNetwork.nodeIP}/32`, 'dev', 'node0']);
  }
  ip(['link', 'set', 'node0', 'up']);
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

interface NodeRecord {
  readonly pid: number;
  readonly clusterDir: string;
  readonly cgroupRoot: string;
}

/** Nodes whose owner process is gone (a killed run) leave processes, mounts and cgroups: remove them. */
function cleanUpKilledNodes(log: (line: string) => void): void {
  let names: string[];
  try {
    names = readdirSync(recordsDir);
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(recordsDir, name);
    let record: NodeRecord;
    try {
      record = JSON.parse(readFileSync(path, 'utf8')) as NodeRecord;
    } catch {
      rmSync(path, { force: true });
      continue;
    }
    if (processExists(record.pid)) continue;
    log(`cleaning up after a node whose process ${record.pid} is gone (${record.clusterDir})`);
    cleanUpNode(record, log);
    rmSync(path, { force: true });
  }
}

/** The node's cgroup root in every hierarchy, cpuset's initialized from its parent (a new one has no CPUs). */
function createCgroupRoot(cgroupRoot: string): void {
  for (const hierarchy of cgroupHierarchies()) {
    const dir = join(hierarchy, cgroupRoot);
    mkdirSync(dir, { recursive: true });
    if (hierarchy.endsWith('/cpuset')) {
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        writeFileSync(join(dir, file), readFileSync(join(hierarchy, file), 'utf8'));
      }
    }
  }
}

function cgroupHierarchies(): string[] {
  try {
    return readdirSync(cgroupMounts)
      .map((name) => join(cgroupMounts, name))
      .filter((dir) => existsSync(join(dir, 'cgroup.procs')));
  } catch {
    return [];
  }
}

/**
 * Idempotent, and safe after a killed run: kills every process in the node's cgroups (containers, pause) and every
 * process whose command line names the cluster's directory (shims, and a killed run's components), unmounts
 * whatever is mounted below that directory (the kubelet's own bind mount, overlays, shm, network namespace files),
 * and removes the node's cgroups. The caller stops its components first; this handles what they leave behind.
 */
function cleanUpNode(record: NodeRecord, log: (line: string) => void): void {
  const pidsCgroup = join(cgroupMounts, 'pids', record.cgroupRoot);
  for (let round = 0; round < 20; round++) {
    const victims = [...cgroupProcesses(pidsCgroup), ...processesMentioning(record.clusterDir)];
    if (victims.length === 0) break;
    for (const pid of victims) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    sleepSync(100);
  }
  for (const mountPoint of mountsUnder(record.clusterDir)) {
    try {
      execFileSync('umount', ['-l', mountPoint], { stdio: 'ignore' });
    } catch (error) {
      log(`umount -l ${mountPoint}: ${(error as Error).message}`);
    }
  }
  for (const hierarchy of cgroupHierarchies()) removeCgroupTree(join(hierarchy, record.cgroupRoot));
  removeShimSocketDirIfEmpty();
  removeContainerLogLinks(record.clusterDir);
}

function cgroupProcesses(root: string): number[] {
  const pids: number[] = [];
  const walk = (dir: string): void => {
    try {
      for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line) pids.push(Number(line));
      for (const entry of readdirSync(dir, { withFileTypes: true }))
        if (entry.isDirectory()) walk(join(dir, entry.name));
    } catch {
      // Gone meanwhile, or no such hierarchy.
    }
  };
  walk(root);
  return pids;
}

function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text)) pids.push(Number(name));
    } catch {
      // Exited meanwhile.
    }
  }
  return pids;
}

/** Mount points at or below `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    // mountinfo escapes spaces and the like as octal.
    .map((point) => point.replace(/\\([0-7]{3})/g, (_, code: string) => String.fromCharCode(parseInt(code, 8))))
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Children before parents; a cgroup directory is removed with rmdir, never with its (virtual) files. */
function removeCgroupTree(root: string): void {
  const dirs: string[] = [];
  const walk = (dir: string): void => {
    try {
      for (const entry of readdirSync(dir, { withFileTypes: true }))
        if (entry.isDirectory()) walk(join(dir, entry.name));
      dirs.push(dir);
    } catch {
      // Gone meanwhile, or never made in this hierarchy.
    }
  };
  walk(root);
  for (const dir of dirs) {
    try {
      execFileSync('rmdir', [dir], { stdio: 'ignore' });
    } catch {
      // Still has a process (the survivor check reports it) or already removed.
    }
  }
}

/**
 * containerd 2.x keeps shim sockets in /run/containerd/s whatever its root. A shim stopped cleanly removes its own;
 * which of the rest belong to live shims of another node cannot be told from here (sockets are listed per network
 * namespace), so none is touched, and the directories go only once they are empty.
 */
function removeShimSocketDirIfEmpty(): void {
  for (const dir of [join(shimSocketDir, 's'), shimSocketDir]) {
    try {
      execFileSync('rmdir', [dir], { stdio: 'ignore' });
    } catch {
      // Not empty (in use by someone else), or not there.
    }
  }
}

/** The kubelet links every container's log into /var/log/containers, a fixed place; the links into ours go. */
function removeContainerLogLinks(clusterDir: string): void {
  let names: string[];
  try {
    names = readdirSync(containerLogLinks);
  } catch {
    return;
  }
  for (const name of names) {
    try {
      if (readlinkSync(join(containerLogLinks, name)).startsWith(`${clusterDir}/`))
        rmSync(join(containerLogLinks, name));
    } catch {
      // Not a link, or gone.
    }
  }
  try {
    execFileSync('rmdir', [containerLogLinks], { stdio: 'ignore' });
  } catch {
    // Others' links are there.
  }
}

// ---- small helpers ------------------------------------------------------------------------------------------------

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .concat(['/usr/sbin', '/sbin'])
    .some((dir) => {
      try {
        return statSync(join(dir, tool)).isFile();
      } catch {
        return false;
      }
    });
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
