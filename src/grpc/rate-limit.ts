/**
 * Per-client fixed-window request counting for gRPC calls: GAN_RATE_LIMIT_PER_MINUTE calls per client address per
 * minute, as @fastify/rate-limit counts HTTP requests (in its own window; a client using both ports is counted on
 * each).
 */

/** Above this many tracked clients, expired windows are swept before a new one is added. */
const SWEEP_AT = 10_000;

export class FixedWindowLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Count one call from `client`: null when allowed, else the seconds until its window resets. */
  take(client: string): number | null {
    const now = this.now();
    let w = this.windows.get(client);
    if (!w || w.resetAt <= now) {
      if (!w && this.windows.size >= SWEEP_AT) this.sweep(now);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(client, w);
    }
    w.count++;
    return w.count > this.max ? Math.ceil((w.resetAt - now) / 1000) : null;
  }

  private sweep(now: number): void {
    for (const [client, w] of this.windows) if (w.resetAt <= now) this.windows.delete(client);
  }
}

/** The address part of a grpc-js peer string: `1.2.3.4:5678` → `1.2.3.4`, `[::1]:5678` → `::1`. */
export function peerAddress(peer: string): string {
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(peer);
  if (bracketed) return bracketed[1]!;
  const v4 = /^([^:]+):\d+$/.exec(peer);
  return v4 ? v4[1]! : peer;
}
