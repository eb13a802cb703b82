// A PEP 503 simple index on 127.0.0.1, serving wheels built in memory. Tests, integration runs and the local demo use it
// in place of PyPI: basic auth, slowness and failures are switches, and the request log shows what pip really fetched.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { buildWheels, DEMO_PROJECTS, normalizeProjectName, type BuiltWheel, type WheelProject } from './wheels.ts';

export interface WheelIndexAuth {
  readonly username: string;
  readonly password: string;
  readonly realm?: string;
}

/** How the index answers; can be changed while it runs (`update`), e.g. slow only during the second install. */
export interface WheelIndexBehaviour {
  /** Delay before answering each request. */
  readonly delayMs: number;
  /**
   * `status-500` answers with 500; `drop` closes the connection without an answer; `wrong-hash` lists files with a
   * sha256 that does not match their content.
   */
  readonly failure: 'none' | 'status-500' | 'drop' | 'wrong-hash';
  /** Which requests the delay and the failure apply to (all by default). */
  readonly affects: (path: string) => boolean;
}

export interface WheelIndexOptions extends Partial<WheelIndexBehaviour> {
  readonly projects?: readonly WheelProject[];
  /** Distributions served besides the built wheels (e.g. a source distribution made by a test). */
  readonly files?: readonly BuiltWheel[];
  readonly auth?: WheelIndexAuth;
  /** A `Vary` header for every cacheable answer, e.g. `Authorization` (pip's HTTP cache then stores that header). */
  readonly vary?: string;
  /**
   * Whether answers carry `Cache-Control` (default true). Without, like the public registry path measured in issue 16
   * and many private indexes, pip's HTTP cache stores nothing.
   */
  readonly cacheHeaders?: boolean;
  /**
   * The address pip reaches the index at, default 127.0.0.1. Any other address (a real node's pod gateway) makes
   * the index listen on every address of the run's private network namespace, where only the run's pods see it.
   */
  readonly reachableAt?: string;
}

export interface IndexRequest {
  readonly method: string;
  readonly path: string;
  /** Whether the request carried the right credentials (always true without auth). */
  readonly authorized: boolean;
  /** Set when the answer was sent; `dropped` for connections closed on purpose. Undefined while delayed. */
  outcome?: number | 'dropped';
}

export interface WheelIndex {
  /** The index URL to give pip, e.g. `http://127.0.0.1:40123/simple/`. */
  readonly url: string;
  /** `<address>:<port>`, for trusted-host lists. */
  readonly host: string;
  /** Every request in arrival order, recorded when it arrives (before any delay). */
  readonly requests: readonly IndexRequest[];
  /** Requests for the project page `/simple/<project>/`: pip fetches it once per resolution, so it counts pip runs. */
  pageRequests(project: string): number;
  update(behaviour: Partial<WheelIndexBehaviour>): void;
  /** Stops the server, dropping delayed requests and open connections. */
  close(): Promise<void>;
}

const everyPath = (): boolean => true;

const loopback = '127.0.0.1';

export async function startWheelIndex(options: WheelIndexOptions = {}): Promise<WheelIndex> {
  const reachableAt = options.reachableAt ?? loopback;
  const wheels = [...buildWheels(options.projects ?? DEMO_PROJECTS), ...(options.files ?? [])];
  const byProject = new Map<string, BuiltWheel[]>();
  for (const wheel of wheels) byProject.set(wheel.project, [...(byProject.get(wheel.project) ?? []), wheel]);
  const byFilename = new Map(wheels.map((wheel) => [wheel.filename, wheel]));
  const expectedAuthorization =
    options.auth === undefined
      ? undefined
      : 'Basic ' + Buffer.from(`${options.auth.username}:${options.auth.password}`).toString('base64');

  let behaviour: WheelIndexBehaviour = {
    delayMs: options.delayMs ?? 0,
    failure: options.failure ?? 'none',
    affects: options.affects ?? everyPath,
  };
  const requests: IndexRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const answer = (request: IndexRequest, response: ServerResponse): void => {
    const path = request.path;
    if (request.method !== 'GET' && request.method !== 'HEAD') return send(response, 405, 'text/plain', 'GET only');
    const failure = behaviour.affects(path) ? behaviour.failure : 'none';
    if (failure === 'drop') {
      request.outcome = 'dropped';
      response.socket?.destroy();
      return;
    }
    if (failure === 'status-500') return send(response, 500, 'text/plain', 'induced failure');
    if (!request.authorized) {
      response.setHeader('WWW-Authenticate', `Basic realm="${options.auth?.realm ?? 'kasprop-test'}"`);
      return send(response, 401, 'text/plain', 'unauthorized');
    }
    if (path === '/simple/') {
      const links = [...byProject.keys()].map((project) => `<a href="/simple/${project}/">${project}</a><br/>`);
      return send(response, 200, 'text/html', page('Simple index', links), 'max-age=600');
    }
    const project = /^\/simple\/([^/]+)\/?$/.exec(path)?.[1];
    if (project !== undefined) {
      const normalized = normalizeProjectName(decodeURIComponent(project));
      if (!path.endsWith('/') || normalized !== project) {
        response.setHeader('Location', `/simple/${normalized}/`);
        return send(response, 301, 'text/plain', 'moved');
      }
      const files = byProject.get(normalized);
      if (files === undefined) return send(response, 404, 'text/plain', 'no such project');
      const digest = (wheel: BuiltWheel): string => (failure === 'wrong-hash' ? '0'.repeat(64) : wheel.sha256);
      const links = files.map((w) => `<a href="/files/${w.filename}#sha256=${digest(w)}">${w.filename}</a><br/>`);
      return send(response, 200, 'text/html', page(`Links for ${normalized}`, links), 'max-age=600');
    }
    const file = /^\/files\/([^/]+)$/.exec(path)?.[1];
    const wheel = file === undefined ? undefined : byFilename.get(decodeURIComponent(file));
    if (wheel === undefined) return send(response, 404, 'text/plain', 'not found');
    send(response, 200, 'application/octet-stream', wheel.bytes, 'max-age=31536000, immutable');

    function send(res: ServerResponse, status: number, type: string, body: string | Buffer, cache?: string): void {
      request.outcome = status;
      res.statusCode = status;
      res.setHeader('Content-Type', type);
      if (cache !== undefined && status === 200 && options.cacheHeaders !== false)
        res.setHeader('Cache-Control', cache);
      if (options.vary !== undefined && status === 200) res.setHeader('Vary', options.vary);
      res.end(request.method === 'HEAD' ? undefined : body);
    }
  };

  const server = createServer((incoming: IncomingMessage, response: ServerResponse) => {
    const path = new URL(incoming.url ?? '/', 'http://index').pathname;
    const request: IndexRequest = {
      method: incoming.method ?? 'GET',
      path,
      authorized: expectedAuthorization === undefined || incoming.headers.authorization === expectedAuthorization,
    };
    requests.push(request);
    const delay = behaviour.affects(path) ? behaviour.delayMs : 0;
    if (delay <= 0) return answer(request, response);
    const timer = setTimeout(() => {
      timers.delete(timer);
      answer(request, response);
    }, delay);
    timers.add(timer);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, reachableAt === loopback ? loopback : '0.0.0.0', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = `${reachableAt}:${port}`;

  return {
    url: `http://${host}/simple/`,
    host,
    requests,
    pageRequests: (project) => requests.filter((r) => r.path === `/simple/${normalizeProjectName(project)}/`).length,
    update: (change) => {
      behaviour = { ...behaviour, ...change };
    },
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function page(title: string, links: readonly string[]): string {
  return `<!DOCTYPE html>\n<html><head><title>${title}</title></head><body>\n${links.join('\n')}\n</body></html>\n`;
}
