// Exec credential plugins (client.authentication.k8s.io v1 and v1beta1), as kubectl runs them: how managed clusters
// hand out tokens (aws eks get-token, gke-gcloud-auth-plugin, kubelogin). The plugin is a program named in the
// kubeconfig; it gets its arguments as an argv array (never through a shell), the environment plus the kubeconfig's
// `env`, and KUBERNETES_EXEC_INFO (an ExecCredential saying whether it may talk to the user, and the cluster when
// `provideClusterInfo` is set); it prints an ExecCredential whose status holds the token and when it expires.
// The token is kept until then, or until the API server refuses it (401); then the plugin runs again.
import { spawn } from 'node:child_process';
import { isAbsolute, join } from 'node:path';
import type { TokenSource } from './credentials.ts';

export const execApiVersions = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'] as const;
export type ExecApiVersion = (typeof execApiVersions)[number];
export const interactiveModes = ['Never', 'IfAvailable', 'Always'] as const;
export type InteractiveMode = (typeof interactiveModes)[number];

/** The `exec` of a kubeconfig user, checked, with the command resolved as kubectl does. */
export interface ExecPluginConfig {
  /** Who uses the plugin, for messages: `kubeconfig user "name"`. */
  readonly owner: string;
  readonly apiVersion: ExecApiVersion;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: readonly { readonly name: string; readonly value: string }[];
  readonly interactiveMode: InteractiveMode;
  readonly provideClusterInfo: boolean;
  readonly installHint?: string | undefined;
}

/** What a plugin may learn about the cluster (`provideClusterInfo`), as ExecCredential's spec.cluster. */
export interface ExecClusterInfo {
  readonly server: string;
  readonly certificateAuthorityData?: Buffer | undefined;
  readonly insecureSkipTlsVerify?: boolean | undefined;
  /** The cluster's `client.authentication.k8s.io/exec` extension, passed through. */
  readonly config?: unknown;
}

/**
 * Checks the raw `exec` of a kubeconfig user. A command with a path separator is relative to the kubeconfig file
 * that names it (`baseDir`); a bare name is looked up on PATH when the plugin runs.
 */
export function parseExecConfig(raw: unknown, owner: string, baseDir: string): ExecPluginConfig {
  const field = (name: string): string => `${owner}: exec.${name}`;
  if (!isRecord(raw)) throw new Error(`${owner}: exec must be a mapping`);
  const apiVersion = raw.apiVersion;
  if (!isOneOf(execApiVersions, apiVersion)) {
    throw new Error(
      `${field('apiVersion')} must be one of ${execApiVersions.join(', ')}, not ${JSON.stringify(apiVersion)}`,
    );
  }
  const command = raw.command;
  if (typeof command !== 'string' || command === '') throw new Error(`${field('command')} is required`);
  const args = raw.args ?? [];
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === 'string')) {
    throw new Error(`${field('args')} must be a list of strings`);
  }
  const env = raw.env ?? [];
  if (
    !Array.isArray(env) ||
    !env.every((entry) => isRecord(entry) && typeof entry.name === 'string' && typeof entry.value === 'string')
  ) {
    throw new Error(`${field('env')} must be a list of {name, value} strings`);
  }
  // v1 makes the mode explicit; v1beta1 defaults it, as client-go does.
  const interactiveMode =
    raw.interactiveMode ?? (apiVersion === 'client.authentication.k8s.io/v1beta1' ? 'IfAvailable' : undefined);
  if (!isOneOf(interactiveModes, interactiveMode)) {
    throw new Error(
      interactiveMode === undefined
        ? `${field('interactiveMode')} is required with ${apiVersion} (one of ${interactiveModes.join(', ')})`
        : `${field('interactiveMode')} must be one of ${interactiveModes.join(', ')}, not ${JSON.stringify(interactiveMode)}`,
    );
  }
  const provideClusterInfo = raw.provideClusterInfo ?? false;
  if (typeof provideClusterInfo !== 'boolean') throw new Error(`${field('provideClusterInfo')} must be true or false`);
  const installHint = raw.installHint;
  if (installHint !== undefined && typeof installHint !== 'string') {
    throw new Error(`${field('installHint')} must be a string`);
  }
  return {
    owner,
    apiVersion,
    command: command.includes('/') && !isAbsolute(command) ? join(baseDir, command) : command,
    args,
    env: env as { name: string; value: string }[],
    interactiveMode,
    provideClusterInfo,
    installHint,
  };
}

/** Whether the plugin may talk to the user: only with a terminal on stdin, and never when its mode says so. */
export function isInteractive(config: ExecPluginConfig, stdinIsTerminal: boolean): boolean {
  if (config.interactiveMode === 'Always' && !stdinIsTerminal) {
    throw new Error(
      `${config.owner}: the exec plugin ${JSON.stringify(config.command)} needs a terminal (interactiveMode: Always), ` +
        'but standard input is not one',
    );
  }
  return config.interactiveMode !== 'Never' && stdinIsTerminal;
}

/** The KUBERNETES_EXEC_INFO document the plugin reads. */
export function execInfo(config: ExecPluginConfig, interactive: boolean, cluster: ExecClusterInfo): string {
  const clusterSpec = config.provideClusterInfo
    ? {
        server: cluster.server,
        'certificate-authority-data': cluster.certificateAuthorityData?.toString('base64'),
        'insecure-skip-tls-verify': cluster.insecureSkipTlsVerify === true ? true : undefined,
        config: cluster.config,
      }
    : undefined;
  return JSON.stringify({
    apiVersion: config.apiVersion,
    kind: 'ExecCredential',
    spec: { interactive, cluster: clusterSpec },
  });
}

export interface ExecToken {
  readonly token: string;
  /** Milliseconds since the epoch; absent: good until the API server refuses it. */
  readonly expiresAt?: number | undefined;
}

/** Reads the ExecCredential a plugin printed, with the checks client-go makes. */
export function parseExecCredential(stdout: string, config: ExecPluginConfig): ExecToken {
  const fail = (reason: string): never => {
    throw new Error(`${config.owner}: the exec plugin ${JSON.stringify(config.command)} ${reason}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    return fail('did not print an ExecCredential as JSON');
  }
  if (!isRecord(parsed) || parsed.kind !== 'ExecCredential') return fail('did not print an ExecCredential');
  if (parsed.apiVersion !== config.apiVersion) {
    return fail(
      `printed apiVersion ${JSON.stringify(parsed.apiVersion)}; the kubeconfig asks for ${config.apiVersion}`,
    );
  }
  const status = parsed.status;
  if (!isRecord(status)) return fail('printed no status');
  const token = status.token;
  if (typeof token !== 'string' || token === '') {
    return fail(
      status.clientCertificateData !== undefined
        ? 'returned a client certificate; kasprop uses plugins that return a token'
        : 'returned no token',
    );
  }
  const expiration = status.expirationTimestamp;
  if (expiration === undefined || expiration === null) return { token };
  const expiresAt = typeof expiration === 'string' ? Date.parse(expiration) : NaN;
  if (Number.isNaN(expiresAt)) {
    return fail(`returned status.expirationTimestamp ${JSON.stringify(expiration)}, which is not an RFC 3339 time`);
  }
  return { token, expiresAt };
}

export interface PluginRun {
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Give the plugin our stdin (an interactive login); otherwise it gets none. */
  readonly interactive: boolean;
}

/** Runs the plugin without a shell; resolves with its stdout once it exits 0. Its stderr is ours. */
export function runPlugin(run: PluginRun): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(run.command, run.args, {
      env: run.env,
      shell: false,
      stdio: [run.interactive ? 'inherit' : 'ignore', 'pipe', 'inherit'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve(Buffer.concat(chunks).toString('utf8'));
      else reject(new Error(signal !== null ? `killed by ${signal}` : `exited with code ${code}`));
    });
  });
}

export interface ExecTokenSourceOptions {
  /** Wall-clock milliseconds: expirationTimestamp is a wall-clock time. */
  readonly now?: () => number;
  readonly run?: (run: PluginRun) => Promise<string>;
  readonly stdinIsTerminal?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

/** Runs the plugin when there is no token or it has expired or been refused; one run at a time. */
export class ExecTokenSource implements TokenSource {
  readonly #config: ExecPluginConfig;
  readonly #cluster: ExecClusterInfo;
  readonly #now: () => number;
  readonly #run: (run: PluginRun) => Promise<string>;
  readonly #stdinIsTerminal: boolean;
  readonly #env: NodeJS.ProcessEnv;
  #cached: ExecToken | undefined;
  #running: Promise<string> | undefined;

  constructor(config: ExecPluginConfig, cluster: ExecClusterInfo, options: ExecTokenSourceOptions = {}) {
    this.#config = config;
    this.#cluster = cluster;
    this.#now = options.now ?? Date.now;
    this.#run = options.run ?? runPlugin;
    // isTTY is declared boolean but is undefined when stdin is not a terminal.
    this.#stdinIsTerminal = options.stdinIsTerminal ?? (process.stdin.isTTY as boolean | undefined) === true;
    this.#env = options.env ?? process.env;
  }

  token(): Promise<string> {
    const cached = this.#cached;
    if (cached !== undefined && (cached.expiresAt === undefined || this.#now() < cached.expiresAt)) {
      return Promise.resolve(cached.token);
    }
    this.#running ??= this.#exec().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  rejected(token: string): boolean {
    if (this.#cached?.token === token) this.#cached = undefined;
    return true;
  }

  async #exec(): Promise<string> {
    const config = this.#config;
    const interactive = isInteractive(config, this.#stdinIsTerminal);
    const env: NodeJS.ProcessEnv = { ...this.#env };
    for (const { name, value } of config.env) env[name] = value;
    env.KUBERNETES_EXEC_INFO = execInfo(config, interactive, this.#cluster);
    let stdout: string;
    try {
      stdout = await this.#run({ command: config.command, args: config.args, env, interactive });
    } catch (error) {
      const notFound = (error as NodeJS.ErrnoException).code === 'ENOENT';
      const reason = notFound ? 'was not found' : `failed: ${error instanceof Error ? error.message : String(error)}`;
      const hint = notFound && config.installHint !== undefined ? `\n${config.installHint}` : '';
      throw new Error(`${config.owner}: the exec plugin ${JSON.stringify(config.command)} ${reason}${hint}`, {
        cause: error,
      });
    }
    this.#cached = parseExecCredential(stdout, config);
    return this.#cached.token;
  }
}

function isOneOf<T extends string>(values: readonly T[], value: unknown): value is T {
  return values.includes(value as T);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
