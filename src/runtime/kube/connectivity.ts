// Whether the apiserver answers at all. When a request fails at the transport level (refused, reset, no answer in
// time), every other request would fail the same way: instead of each reconcile and each informer finding that out
// for itself, one probe retries with exponential backoff and everyone waits for it. Any HTTP answer, of any status,
// proves the server is back, and wakes every waiter at once.
import { sleep, systemClock, type Clock } from '../clock.ts';

export interface ConnectivityBackoff {
  /** Delay before the first probe; default 250 ms. */
  readonly initialMs?: number;
  /** Longest delay between probes; default 4 s, so the operator is back within 4 s of the server. */
  readonly maxMs?: number;
}

/** The delay before probe number `attempt` (0-based): `initialMs * 2^attempt`, capped at `maxMs`. */
export function probeDelayMs(attempt: number, { initialMs = 250, maxMs = 4_000 }: ConnectivityBackoff = {}): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 64));
}

/** The most probes sent while the server stays unreachable for `outageMs`: the bound of the requests it costs. */
export function maxProbesWithin(outageMs: number, backoff: ConnectivityBackoff = {}): number {
  let probes = 0;
  for (let elapsed = probeDelayMs(0, backoff); elapsed <= outageMs; elapsed += probeDelayMs(probes, backoff)) probes++;
  // One more: the probe that finds the server back.
  return probes + 1;
}

export interface ConnectivityOptions {
  /** Sends one request to the server; its answer (any status) is reported back through `answered`. */
  readonly probe: (signal: AbortSignal) => Promise<unknown>;
  readonly backoff?: ConnectivityBackoff;
  readonly clock?: Clock;
}

/** The read side, for what waits on the server: workers and informers. */
export interface ConnectivityGate {
  readonly reachable: boolean;
  /** Resolves true once the server answers again (at once if it does), false if `signal` aborts first. */
  whenReachable(signal?: AbortSignal): Promise<boolean>;
}

export class ApiConnectivity implements ConnectivityGate {
  readonly #options: ConnectivityOptions;
  readonly #clock: Clock;
  readonly #waiters = new Set<() => void>();
  readonly #closed = new AbortController();
  #reachable = true;
  #outages = 0;

  constructor(options: ConnectivityOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  get reachable(): boolean {
    return this.#reachable;
  }

  /** How many times the server became unreachable since this client started. */
  get outages(): number {
    return this.#outages;
  }

  /** A request got no HTTP answer: from now on everyone waits for the probe. */
  unreachable(): void {
    if (!this.#reachable || this.#closed.signal.aborted) return;
    this.#reachable = false;
    this.#outages++;
    void this.#probeUntilAnswered();
  }

  /** A request got an HTTP answer (any status): the server is there. */
  answered(): void {
    if (this.#reachable) return;
    this.#reachable = true;
    for (const wake of [...this.#waiters]) wake();
  }

  whenReachable(signal?: AbortSignal): Promise<boolean> {
    if (this.#reachable) return Promise.resolve(true);
    if (signal?.aborted === true || this.#closed.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (result: boolean): void => {
        this.#waiters.delete(wake);
        signal?.removeEventListener('abort', onAbort);
        this.#closed.signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const wake = (): void => done(true);
      const onAbort = (): void => done(false);
      this.#waiters.add(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#closed.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops probing; waiters resolve false. */
  close(): void {
    this.#closed.abort();
  }

  /** A method, not inline fields: the type checker would take them as fixed across awaits. */
  #stillUnreachable(): boolean {
    return !this.#reachable && !this.#closed.signal.aborted;
  }

  async #probeUntilAnswered(): Promise<void> {
    const signal = this.#closed.signal;
    for (let attempt = 0; this.#stillUnreachable(); attempt++) {
      await sleep(this.#clock, probeDelayMs(attempt, this.#options.backoff), signal);
      if (!this.#stillUnreachable()) return;
      try {
        await this.#options.probe(signal);
      } catch {
        // An HTTP error status still counts as an answer (the client reports it); anything else: probe again later.
      }
    }
  }
}
