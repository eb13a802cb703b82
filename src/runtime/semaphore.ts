// At most `permits` tasks at a time, the others waiting in arrival order. Informers of one client share one for
// their LISTs: after an apiserver restart they all relist at the same moment, and each holds a whole page of raw
// objects, as text and parsed, until it is prepared; one after the other keeps the peak to one page.
export class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(permits: number) {
    this.#free = permits;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#free++;
    }
  }
}
