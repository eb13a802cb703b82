// How to reach the API server: from kubeconfig files, or from the service account a pod runs as.
// Kubeconfig is read as kubectl reads it: every file in KUBECONFIG, merged (for each cluster, user and context
// name, and for current-context, the first file that sets it wins), relative paths resolved against the file that
// holds them. Users authenticate with a client certificate, a token, a token file, or an exec credential plugin
// (exec-credential.ts). auth-provider plugins are rejected with a clear error: kubectl dropped gcp and azure in 1.26
// for exec plugins, and oidc is deprecated for one too (kubelogin).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { parseExecConfig, type ExecPluginConfig } from './exec-credential.ts';

export interface KubeConfig {
  /** Base URL of the API server, without a trailing slash. */
  readonly server: string;
  readonly ca?: Buffer | undefined;
  readonly cert?: Buffer | undefined;
  readonly key?: Buffer | undefined;
  readonly token?: string | undefined;
  /** Read again once a minute and after a 401 (credentials.ts): projected service account tokens rotate. */
  readonly tokenFile?: string | undefined;
  /** The plugin that gives the token, when neither token nor tokenFile is set. */
  readonly exec?: ExecPluginConfig | undefined;
  /** The cluster's `client.authentication.k8s.io/exec` extension, for a plugin with provideClusterInfo. */
  readonly execClusterConfig?: unknown;
  readonly insecureSkipTlsVerify?: boolean | undefined;
  /** The namespace of the current context (or of the pod), used where none is given. */
  readonly namespace: string;
}

const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

export function inClusterConfig(env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('not running in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set');
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    ca: readFileSync(join(serviceAccountDir, 'ca.crt')),
    tokenFile: join(serviceAccountDir, 'token'),
    namespace: readFileSync(join(serviceAccountDir, 'namespace'), 'utf8').trim(),
  };
}

/** The files kubectl reads: the entries of KUBECONFIG in order (empty and repeated ones dropped), else ~/.kube/config. */
export function kubeconfigPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const listed = [...new Set((env.KUBECONFIG ?? '').split(delimiter).filter((path) => path !== ''))];
  return listed.length > 0 ? listed : [join(homedir(), '.kube', 'config')];
}

/** Loads a context of one kubeconfig file, which must exist (kubectl's --kubeconfig). */
export function loadKubeConfigFile(path: string, context?: string): KubeConfig {
  return resolveContext(mergeKubeconfigs([readKubeconfig(path)]), context);
}

/**
 * Loads a context (default: the current one) of the merged kubeconfig files, as kubectl does with KUBECONFIG:
 * files that do not exist are skipped, but at least one must.
 */
export function loadKubeConfig(paths: readonly string[], context?: string): KubeConfig {
  const present = paths.filter((path) => existsSync(path));
  if (present.length === 0) throw new Error(`no kubeconfig file: none of ${paths.join(', ')} exists`);
  return resolveContext(mergeKubeconfigs(present.map(readKubeconfig)), context);
}

/** One kubeconfig file as parsed, with where it came from. */
export interface KubeconfigFile {
  readonly path: string;
  readonly doc: RawKubeConfig;
}

function readKubeconfig(path: string): KubeconfigFile {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`kubeconfig ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (doc === null || doc === undefined) return { path, doc: {} };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`kubeconfig ${path}: not a mapping`);
  return { path, doc };
}

/** A named entry of the merged kubeconfig, with the file that set it (relative paths are relative to it). */
export interface Sourced<T> {
  readonly value: T;
  readonly file: string;
}

export interface MergedKubeconfig {
  readonly currentContext?: string | undefined;
  readonly contexts: ReadonlyMap<string, Sourced<RawContext>>;
  readonly clusters: ReadonlyMap<string, Sourced<RawCluster>>;
  readonly users: ReadonlyMap<string, Sourced<RawUser>>;
}

/** kubectl's merge: the first file to set current-context, or a cluster, user or context of a name, wins. */
export function mergeKubeconfigs(files: readonly KubeconfigFile[]): MergedKubeconfig {
  let currentContext: string | undefined;
  const contexts = new Map<string, Sourced<RawContext>>();
  const clusters = new Map<string, Sourced<RawCluster>>();
  const users = new Map<string, Sourced<RawUser>>();
  for (const { path, doc } of files) {
    const current = doc['current-context'];
    if (currentContext === undefined && typeof current === 'string' && current !== '') currentContext = current;
    addNamed(contexts, doc.contexts, 'contexts', 'context', path);
    addNamed(clusters, doc.clusters, 'clusters', 'cluster', path);
    addNamed(users, doc.users, 'users', 'user', path);
  }
  return { currentContext, contexts, clusters, users };
}

function addNamed<T>(
  into: Map<string, Sourced<T>>,
  list: unknown,
  listName: string,
  itemName: string,
  file: string,
): void {
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) throw new Error(`kubeconfig ${file}: ${listName} must be a list`);
  for (const [index, entry] of list.entries()) {
    const item = entry as Record<string, unknown> | null;
    if (typeof item?.name !== 'string' || typeof item[itemName] !== 'object' || item[itemName] === null) {
      throw new Error(`kubeconfig ${file}: ${listName}[${index}] needs a name and a ${itemName} mapping`);
    }
    if (!into.has(item.name)) into.set(item.name, { value: item[itemName] as T, file });
  }
}

/** The connection a context of the merged kubeconfig describes; files it names are read here. */
export function resolveContext(merged: MergedKubeconfig, contextName?: string): KubeConfig {
  const name = contextName ?? merged.currentContext;
  if (name === undefined) throw new Error('kubeconfig: no current-context, and no --context given');
  const context = merged.contexts.get(name);
  if (context === undefined) throw new Error(`kubeconfig: context ${JSON.stringify(name)} not found`);
  const { cluster: clusterName, user: userName } = context.value;
  const cluster = merged.clusters.get(clusterName);
  if (cluster?.value.server === undefined) {
    throw new Error(`kubeconfig ${context.file}: cluster ${JSON.stringify(clusterName)} not found or has no server`);
  }
  const user = userName !== undefined ? merged.users.get(userName) : undefined;
  if (userName !== undefined && user === undefined) {
    throw new Error(
      `kubeconfig ${context.file}: user ${JSON.stringify(userName)} of context ${JSON.stringify(name)} not found`,
    );
  }
  const raw = user?.value ?? {};
  const owner = `kubeconfig ${user?.file ?? context.file}: user ${JSON.stringify(userName)}`;
  if (raw['auth-provider'] !== undefined) {
    throw new Error(`${owner} uses an auth-provider plugin, which kasprop does not run: use an exec plugin instead`);
  }
  const userDir = dirname(user?.file ?? context.file);
  const clusterDir = dirname(cluster.file);
  const local = (dir: string, path: string): string => (isAbsolute(path) ? path : join(dir, path));
  const readData = (dir: string, data: string | undefined, path: string | undefined): Buffer | undefined =>
    data !== undefined ? Buffer.from(data, 'base64') : path !== undefined ? readFileSync(local(dir, path)) : undefined;
  const ca = readData(clusterDir, cluster.value['certificate-authority-data'], cluster.value['certificate-authority']);
  const insecureSkipTlsVerify = cluster.value['insecure-skip-tls-verify'] === true;
  return {
    server: cluster.value.server.replace(/\/+$/, ''),
    ca,
    cert: readData(userDir, raw['client-certificate-data'], raw['client-certificate']),
    key: readData(userDir, raw['client-key-data'], raw['client-key']),
    token: raw.token,
    tokenFile: raw.tokenFile !== undefined ? local(userDir, raw.tokenFile) : undefined,
    exec: raw.exec !== undefined ? parseExecConfig(raw.exec, owner, userDir) : undefined,
    execClusterConfig: cluster.value.extensions?.find((e) => e.name === 'client.authentication.k8s.io/exec')?.extension,
    insecureSkipTlsVerify,
    namespace: context.value.namespace ?? 'default',
  };
}

export interface RawContext {
  cluster: string;
  user?: string;
  namespace?: string;
}

export interface RawCluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  extensions?: { name: string; extension?: unknown }[];
}

export interface RawUser {
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  token?: string;
  tokenFile?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
}

export interface RawKubeConfig {
  'current-context'?: unknown;
  contexts?: unknown;
  clusters?: unknown;
  users?: unknown;
}
