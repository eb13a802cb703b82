// How to reach the API server: from a kubeconfig file, or from the service account a pod runs as.
// Only the parts of kubeconfig an operator needs are supported (client certificates and bearer tokens);
// exec and auth-provider plugins are rejected with a clear error rather than silently ignored.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, dirname, isAbsolute } from 'node:path';
import { parse } from 'yaml';

export interface KubeConfig {
  /** Base URL of the API server, without a trailing slash. */
  readonly server: string;
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly token?: string;
  /** Read again on every request: projected service account tokens rotate. */
  readonly tokenFile?: string;
  readonly insecureSkipTlsVerify?: boolean;
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

/** Loads the current context of a kubeconfig file (the first path of KUBECONFIG, else ~/.kube/config). */
export function loadKubeConfigFile(path?: string, context?: string): KubeConfig {
  const file = path ?? process.env.KUBECONFIG?.split(':')[0] ?? join(homedir(), '.kube', 'config');
  const doc = parse(readFileSync(file, 'utf8')) as RawKubeConfig;
  const contextName = context ?? doc['current-context'];
  const ctx = doc.contexts?.find((c) => c.name === contextName)?.context;
  if (!ctx) throw new Error(`${file}: context ${JSON.stringify(contextName)} not found`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`${file}: cluster ${JSON.stringify(ctx.cluster)} not found or has no server`);
  const user = doc.users?.find((u) => u.name === ctx.user)?.user ?? {};
  if (user.exec || user['auth-provider']) {
    throw new Error(
      `${file}: user ${JSON.stringify(ctx.user)} uses an exec or auth-provider plugin, which kasprop does not run`,
    );
  }
  const base = dirname(file);
  const readData = (data: string | undefined, pathField: string | undefined): Buffer | undefined =>
    data !== undefined
      ? Buffer.from(data, 'base64')
      : pathField !== undefined
        ? readFileSync(isAbsolute(pathField) ? pathField : join(base, pathField))
        : undefined;
  return {
    server: cluster.server.replace(/\/+$/, ''),
    ca: readData(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: readData(user['client-certificate-data'], user['client-certificate']),
    key: readData(user['client-key-data'], user['client-key']),
    token: user.token,
    tokenFile: user.tokenFile,
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    namespace: ctx.namespace ?? 'default',
  };
}

interface RawKubeConfig {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  clusters?: {
    name: string;
    cluster: {
      server?: string;
      'certificate-authority'?: string;
      'certificate-authority-data'?: string;
      'insecure-skip-tls-verify'?: boolean;
    };
  }[];
  users?: {
    name: string;
    user: {
      'client-certificate'?: string;
      'client-certificate-data'?: string;
      'client-key'?: string;
      'client-key-data'?: string;
      token?: string;
      tokenFile?: string;
      exec?: unknown;
      'auth-provider'?: unknown;
    };
  }[];
}
