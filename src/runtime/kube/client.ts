// A small Kubernetes REST client on node:https: typed enough for an operator, with nothing hidden.
// Every request goes through `request` (or `watch`), so the observer sees each one: metrics and the
// "no mutating request in steady state" checks both rely on that.
import http from 'node:http';
import https from 'node:https';
import type { ObjectMeta, Status } from 'kubernetes-types/meta/v1.js';
import type { KubeConfig } from './config.ts';
import { ApiConnectivity, type ConnectivityBackoff } from './connectivity.ts';
import { tokenSourceFor, type TokenSource } from './credentials.ts';
import { resourcePath, type ResourceType } from './resources.ts';

export type Verb = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface ObjectList<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

export interface RequestInfo {
  readonly verb: Verb;
  /** The server's host and port, as client-go's metrics label requests. */
  readonly host: string;
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
  readonly watch: boolean;
}

/** A 2xx answer: its status and parsed body. */
export interface Exchange<T> {
  readonly status: number;
  readonly body: T;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  readonly verb: Verb;
  readonly path: string;
  readonly query?: Query | undefined;
  readonly body?: unknown;
  readonly contentType?: string;
  readonly signal?: AbortSignal | undefined;
  /** Whole-request deadline; the default suits everything but watches. */
  readonly timeoutMs?: number;
}

/** A non-2xx answer from the API server, with the Status it sent. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly details: Status['details'];

  constructor(status: number, body: Partial<Status> | undefined, fallback: string) {
    super(body?.message ?? fallback);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = body?.reason ?? '';
    this.details = body?.details;
  }
}

/**
 * A request that got no HTTP answer: refused, reset, or none within its deadline. Not an abort: a request its
 * caller aborted fails with the abort reason, as before.
 */
export class KubeTransportError extends Error {
  constructor(options: RequestOptions, cause: unknown) {
    super(`${options.verb} ${options.path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'KubeTransportError';
  }
}

export const isTransportError = (error: unknown): boolean => error instanceof KubeTransportError;

/** A write refused because its namespace is being deleted: it will never be admitted again. */
export const isNamespaceTerminating = (error: unknown): boolean =>
  error instanceof KubeApiError &&
  error.status === 403 &&
  ((error.details?.causes ?? []).some((c) => c.reason === 'NamespaceTerminating') ||
    error.message.includes('because it is being terminated'));

export const isNotFound = (error: unknown): boolean => error instanceof KubeApiError && error.status === 404;
export const isConflict = (error: unknown): boolean => error instanceof KubeApiError && error.status === 409;
export const isGone = (error: unknown): boolean => error instanceof KubeApiError && error.status === 410;

export interface ObjectRef {
  readonly namespace?: string | undefined;
  readonly name: string;
}

export interface ListOptions {
  readonly namespace?: string | undefined;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  readonly resourceVersion?: string | undefined;
  readonly limit?: number | undefined;
  readonly continue?: string | undefined;
}

export interface ClientOptions {
  readonly userAgent?: string;
  readonly requestTimeoutMs?: number;
  readonly onRequest?: (info: RequestInfo) => void;
  /** How often the server is probed while it does not answer; see connectivity.ts. */
  readonly connectivityBackoff?: ConnectivityBackoff;
}

const defaultTimeoutMs = 30_000;

export class KubeClient {
  readonly config: KubeConfig;
  readonly #agent: http.Agent;
  readonly #secure: boolean;
  readonly #options: ClientOptions;
  readonly #tokens: TokenSource | undefined;
  /** Whether the server answers; every request reports to it, and it probes while the server does not. */
  readonly connectivity: ApiConnectivity;

  constructor(config: KubeConfig, options: ClientOptions = {}) {
    this.config = config;
    this.#options = options;
    this.#tokens = tokenSourceFor(config);
    this.connectivity = new ApiConnectivity({
      // Open to every client, authenticated or not (system:public-info-viewer), and cheap.
      probe: (signal) => this.request({ verb: 'GET', path: '/readyz', signal, timeoutMs: 5_000 }),
      backoff: options.connectivityBackoff,
    });
    this.#secure = config.server.startsWith('https:');
    const agentOptions = { keepAlive: true, maxSockets: 64 };
    this.#agent = this.#secure
      ? new https.Agent({
          ...agentOptions,
          ca: config.ca,
          cert: config.cert,
          key: config.key,
          rejectUnauthorized: config.insecureSkipTlsVerify !== true,
        })
      : new http.Agent(agentOptions);
  }

  /** Closes idle keep-alive sockets so the process can exit. */
  close(): void {
    this.connectivity.close();
    this.#agent.destroy();
  }

  async request<T>(options: RequestOptions): Promise<T> {
    return (await this.exchange<T>(options)).body;
  }

  /**
   * Like `request`, but also returns the HTTP status of the 2xx answer: a server-side apply answers 201 when it
   * created the object and 200 when it patched it, which is the only race-free way to tell the two apart.
   */
  async exchange<T>(options: RequestOptions): Promise<Exchange<T>> {
    const { response, started } = await this.#send(options, false);
    const text = await readBody(response).catch((error: unknown) => {
      throw this.#transportFailure(options, error);
    });
    this.#observe(options, response.statusCode ?? 0, started, false);
    const status = response.statusCode ?? 0;
    const parsed = text.length > 0 ? parseJson(text) : undefined;
    if (status < 200 || status >= 300) {
      throw new KubeApiError(
        status,
        parsed as Partial<Status> | undefined,
        `${options.verb} ${options.path}: HTTP ${status}`,
      );
    }
    return { status, body: parsed as T };
  }

  /**
   * Streams watch events until the server ends the watch, the signal aborts, or an ERROR event arrives
   * (thrown as KubeApiError, so a 410 Gone reaches the caller the same way whether it came as a status
   * code or as an event).
   */
  async *watch<T>(path: string, query: Query, signal?: AbortSignal): AsyncGenerator<WatchEvent<T>> {
    const options: RequestOptions = { verb: 'GET', path, query: { ...query, watch: true }, signal, timeoutMs: 0 };
    const { response, started } = await this.#send(options, true);
    const status = response.statusCode ?? 0;
    if (status !== 200) {
      const text = await readBody(response);
      this.#observe(options, status, started, true);
      throw new KubeApiError(status, parseJson(text) as Partial<Status> | undefined, `watch ${path}: HTTP ${status}`);
    }
    try {
      let buffered = '';
      response.setEncoding('utf8');
      for await (const chunk of response as AsyncIterable<string>) {
        buffered += chunk;
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line.length === 0) continue;
          const event = parseJson(line) as { type: string; object: unknown };
          if (event.type === 'ERROR') {
            const body = event.object as Partial<Status>;
            throw new KubeApiError(body.code ?? 500, body, `watch ${path}: error event`);
          }
          yield event as WatchEvent<T>;
        }
      }
    } catch (error) {
      // An abort is how callers stop a watch; it is not an error of the watch.
      if (signal?.aborted === true) return;
      throw error;
    } finally {
      response.destroy();
      this.#observe(options, status, started, true);
    }
  }

  // Conveniences over request(). Paths come from the resource table, never from user strings.

  async get<T extends KubeObject>(type: ResourceType, ref: ObjectRef): Promise<T | undefined> {
    try {
      return await this.request<T>({ verb: 'GET', path: resourcePath(type, ref) });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async list<T extends KubeObject>(
    type: ResourceType,
    options: ListOptions = {},
    signal?: AbortSignal,
  ): Promise<ObjectList<T>> {
    const { namespace, ...query } = options;
    return this.request<ObjectList<T>>({
      verb: 'GET',
      path: resourcePath(type, { namespace }),
      query: { ...query },
      signal,
    });
  }

  async create<T extends KubeObject>(type: ResourceType, object: T, subresourceOf?: ObjectRef): Promise<T> {
    const namespace = subresourceOf?.namespace ?? object.metadata?.namespace;
    return this.request<T>({ verb: 'POST', path: resourcePath(type, { namespace }), body: object });
  }

  /** Server-side apply of a complete desired object, owned by `fieldManager`. */
  async apply<T extends KubeObject>(
    type: ResourceType,
    object: T,
    { fieldManager, subresource, force = true }: { fieldManager: string; subresource?: string; force?: boolean },
  ): Promise<T> {
    const meta = object.metadata ?? {};
    if (meta.name === undefined) throw new Error(`apply ${type.kind}: metadata.name is required`);
    return this.request<T>({
      verb: 'PATCH',
      path: resourcePath(type, { namespace: meta.namespace, name: meta.name, subresource }),
      query: { fieldManager, force },
      // JSON is YAML, and apply-patch+yaml is what every apiserver version accepts for apply.
      contentType: 'application/apply-patch+yaml',
      body: object,
    });
  }

  async patch<T extends KubeObject>(
    type: ResourceType,
    ref: ObjectRef,
    patch: unknown,
    { kind = 'merge', subresource }: { kind?: 'merge' | 'json' | 'strategic'; subresource?: string } = {},
  ): Promise<T> {
    const contentTypes = {
      merge: 'application/merge-patch+json',
      json: 'application/json-patch+json',
      strategic: 'application/strategic-merge-patch+json',
    };
    return this.request<T>({
      verb: 'PATCH',
      path: resourcePath(type, { ...ref, subresource }),
      contentType: contentTypes[kind],
      body: patch,
    });
  }

  async replace<T extends KubeObject>(type: ResourceType, object: T, subresource?: string): Promise<T> {
    const meta = object.metadata ?? {};
    if (meta.name === undefined) throw new Error(`replace ${type.kind}: metadata.name is required`);
    return this.request<T>({
      verb: 'PUT',
      path: resourcePath(type, { namespace: meta.namespace, name: meta.name, subresource }),
      body: object,
    });
  }

  /** Deletes an object; an object already gone is not an error. Returns whether this call deleted it. */
  async delete(
    type: ResourceType,
    ref: ObjectRef,
    options: { propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'; uid?: string } = {},
  ): Promise<boolean> {
    const body = {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      propagationPolicy: options.propagationPolicy,
      preconditions: options.uid !== undefined ? { uid: options.uid } : undefined,
    };
    try {
      await this.request({ verb: 'DELETE', path: resourcePath(type, ref), body });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  #observe(options: RequestOptions, status: number, started: number, watch: boolean): void {
    this.#options.onRequest?.({
      verb: options.verb,
      host: new URL(this.config.server).host,
      path: options.path,
      status,
      durationMs: performance.now() - started,
      watch,
    });
  }

  /**
   * Sends the request; a 401 to a token its source can replace (rotated, expired early, revoked) is sent once more
   * with a fresh one. Safe for every verb: a request refused at authentication was not acted on.
   */
  async #send(options: RequestOptions, watch: boolean): Promise<{ response: http.IncomingMessage; started: number }> {
    const first = await this.#sendOnce(options, watch);
    if (first.response.statusCode !== 401 || first.token === undefined || this.#tokens?.rejected(first.token) !== true)
      return first;
    first.response.resume();
    this.#observe(options, 401, first.started, watch);
    return this.#sendOnce(options, watch);
  }

  async #sendOnce(
    options: RequestOptions,
    watch: boolean,
  ): Promise<{ response: http.IncomingMessage; started: number; token: string | undefined }> {
    const url = new URL(this.config.server + options.path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const body = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body), 'utf8');
    const headers: http.OutgoingHttpHeaders = {
      Accept: 'application/json',
      'User-Agent': this.#options.userAgent ?? 'kasprop',
    };
    if (body) {
      headers['Content-Type'] = options.contentType ?? 'application/json';
      headers['Content-Length'] = body.length;
    }
    const token = await this.#tokens?.token();
    if (token !== undefined) headers.Authorization = `Bearer ${token}`;

    const timeoutMs = options.timeoutMs ?? this.#options.requestTimeoutMs ?? defaultTimeoutMs;
    const started = performance.now();
    const transport = this.#secure ? https : http;
    const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = transport.request(url, { method: options.verb, headers, agent: this.#agent, signal: options.signal });
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () => {
          req.destroy(new Error(`${options.verb} ${options.path}: no answer within ${timeoutMs} ms`));
        });
      }
      req.once('response', (res) => {
        // The request deadline covers the whole body of a plain request, but not a watch stream.
        if (watch) req.setTimeout(0);
        resolve(res);
      });
      req.once('error', reject);
      req.end(body);
    }).catch((error: unknown) => {
      this.#observe(options, 0, started, watch);
      throw this.#transportFailure(options, error);
    });
    this.connectivity.answered();
    return { response, started, token };
  }

  /** What a request that got no answer throws; unless its caller aborted it, the server counts as unreachable. */
  #transportFailure(options: RequestOptions, error: unknown): unknown {
    if (options.signal?.aborted === true) return error;
    this.connectivity.unreachable();
    return new KubeTransportError(options, error);
  }
}

async function readBody(response: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 500) };
  }
}

/** Extracts the typed object list of a LIST answer; kept separate so callers can page with `continue`. */
export async function listAll<T extends KubeObject>(
  client: KubeClient,
  type: ResourceType,
  options: ListOptions = {},
): Promise<ObjectList<T>> {
  const items: T[] = [];
  let next: string | undefined;
  let resourceVersion: string | undefined;
  do {
    const page = await client.list<T>(type, { ...options, limit: options.limit ?? 500, continue: next });
    items.push(...page.items);
    next = page.metadata.continue || undefined;
    resourceVersion = page.metadata.resourceVersion;
  } while (next !== undefined);
  return { metadata: { resourceVersion }, items };
}
