// The operator's own endpoints: /metrics for Prometheus, /healthz for the liveness probe (is this process able to
// work at all: answering proves the event loop runs, the checks say whether informers are running), and /readyz for
// the readiness probe (are the caches synced, so that what we serve and decide is based on the cluster's state).
// Checks answer in kube-apiserver's style: 200 "ok", or 503 with one line per check.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { silentLogger, type Logger } from './logger.ts';

/** A health check: true when healthy, otherwise the reason it is not (a throw counts as a reason too). */
export type HealthCheck = () => true | string | Promise<true | string>;

export interface HttpServerOptions {
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** Default 0.0.0.0: probes and scrapes come from outside the pod. */
  readonly host?: string;
  readonly registry: Registry;
  readonly healthChecks?: Readonly<Record<string, HealthCheck>>;
  readonly readinessChecks?: Readonly<Record<string, HealthCheck>>;
  readonly logger?: Logger;
}

export interface RuntimeHttpServer {
  readonly port: number;
  /** e.g. http://127.0.0.1:8080 */
  readonly url: string;
  /** Stops listening and closes open connections (scrapers keep theirs alive). */
  close(): Promise<void>;
}

export interface CheckReport {
  readonly ok: boolean;
  readonly body: string;
}

/** Runs `checks` (in parallel) and renders the answer: "ok", or "[+]name ok" / "[-]name failed: reason" lines. */
export async function runChecks(checks: Readonly<Record<string, HealthCheck>>, what: string): Promise<CheckReport> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        return { name, outcome: await check() };
      } catch (error) {
        return { name, outcome: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
  const ok = results.every(({ outcome }) => outcome === true);
  if (ok) return { ok, body: 'ok\n' };
  const lines = results.map(({ name, outcome }) =>
    outcome === true ? `[+]${name} ok` : `[-]${name} failed: ${outcome}`,
  );
  return { ok, body: `${lines.join('\n')}\n${what} check failed\n` };
}

export async function startHttpServer(options: HttpServerOptions): Promise<RuntimeHttpServer> {
  const logger = options.logger ?? silentLogger;
  const server = http.createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const send = (status: number, body: string, contentType = 'text/plain; charset=utf-8'): void => {
      response.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(405, 'method not allowed\n');
      return;
    }
    const answer = async (): Promise<void> => {
      switch (path) {
        case '/metrics':
          send(200, await options.registry.metrics(), options.registry.contentType);
          return;
        case '/healthz':
        case '/livez': {
          const report = await runChecks(options.healthChecks ?? {}, 'healthz');
          send(report.ok ? 200 : 503, report.body);
          return;
        }
        case '/readyz': {
          const report = await runChecks(options.readinessChecks ?? {}, 'readyz');
          send(report.ok ? 200 : 503, report.body);
          return;
        }
        default:
          send(404, 'not found\n');
      }
    };
    answer().catch((error: unknown) => {
      logger.error('http handler failed', { path, error });
      if (!response.headersSent) send(500, 'internal error\n');
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port, address, family } = server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  return {
    port,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
