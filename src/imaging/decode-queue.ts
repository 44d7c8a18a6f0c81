/**
 * A bound on how many images are decoded at once, across all requests. sharp runs each decode on one of libuv's
 * thread-pool threads (4 by default), the same threads that read static files and run zlib: with every one of them
 * decoding, a page load waits behind seconds of image work. Tasks beyond the bound wait in arrival order.
 */
export class DecodeQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly slots: number) {
    if (!(Number.isInteger(slots) && slots >= 1)) throw new RangeError(`slots must be ≥ 1, got ${slots}`);
  }

  /** Tasks running now. */
  get active(): number {
    return this.running;
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Run `task` once a slot is free; the slot passes straight to the next waiting task when it ends. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.slots) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
