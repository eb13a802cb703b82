// Where the bearer token of each request comes from. A token is asked for before every request, so a source
// caches it; when the API server answers 401 the client tells the source, which forgets the token so the next
// request gets a fresh one (client-go's ResetTokenOlderThan and the exec authenticator's refresh on 401).
import { readFile } from 'node:fs/promises';
import type { KubeConfig } from './config.ts';
import { ExecTokenSource, type ExecTokenSourceOptions } from './exec-credential.ts';

export interface TokenSource {
  /** The token to send; cached while it is good. */
  token(): Promise<string>;
  /**
   * The API server refused `token` (401). Returns whether a new call to `token` may give a different one, so
   * that one more try of the request makes sense.
   */
  rejected(token: string): boolean;
}

/** A token written in the kubeconfig: nothing to refresh. */
export function staticTokenSource(token: string): TokenSource {
  return { token: () => Promise.resolve(token), rejected: () => false };
}

/** How long a token read from a file is used before the file is read again: client-go's period. */
export const tokenFileMaxAgeMs = 60_000;

/**
 * A token file, read again once a minute and after a 401: projected service-account tokens (and the tokenFile of a
 * kubeconfig) are rotated by rewriting the file, and the kubelet does it when 80% of the old token's lifetime (at
 * least 10 minutes) has passed, so a token read a minute ago is still good; one revoked early is replaced at its
 * first 401.
 */
export class FileTokenSource implements TokenSource {
  readonly #path: string;
  readonly #now: () => number;
  #cached: { readonly token: string; readonly readAt: number } | undefined;

  constructor(path: string, now: () => number = () => performance.now()) {
    this.#path = path;
    this.#now = now;
  }

  async token(): Promise<string> {
    const cached = this.#cached;
    if (cached !== undefined && this.#now() - cached.readAt < tokenFileMaxAgeMs) return cached.token;
    const token = (await readFile(this.#path, 'utf8')).trim();
    if (token === '') throw new Error(`token file ${this.#path} is empty`);
    this.#cached = { token, readAt: this.#now() };
    return token;
  }

  rejected(token: string): boolean {
    if (this.#cached?.token === token) this.#cached = undefined;
    return true;
  }
}

/** The token source a kubeconfig describes, with kubectl's precedence: tokenFile, token, then an exec plugin. */
export function tokenSourceFor(config: KubeConfig, options: ExecTokenSourceOptions = {}): TokenSource | undefined {
  if (config.tokenFile !== undefined) return new FileTokenSource(config.tokenFile);
  if (config.token !== undefined) return staticTokenSource(config.token);
  if (config.exec !== undefined) {
    const cluster = {
      server: config.server,
      certificateAuthorityData: config.ca,
      insecureSkipTlsVerify: config.insecureSkipTlsVerify,
      config: config.execClusterConfig,
    };
    return new ExecTokenSource(config.exec, cluster, options);
  }
  return undefined;
}
