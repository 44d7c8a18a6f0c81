/**
 * An AbortSignal that aborts when a request's client goes away, so the work done for it (queued inference, a bulk
 * stream) stops.
 *
 * One signal per connection, not per request: an HTTP/1.1 client can only abandon a request by closing its
 * connection, and an AbortController with its listener per request was a measurable share of a count-1 /generate's
 * time on the event loop (docs/benchmarks.md, "Before and after"). A request whose reply is complete has stopped
 * listening (the scheduler drops its callback when its rows return), so a connection that closes later cancels
 * nothing.
 */
import type { Socket } from 'node:net';
import type { FastifyRequest } from 'fastify';

const perConnection = new WeakMap<Socket, AbortSignal>();

export function clientGoneSignal(request: FastifyRequest): AbortSignal {
  const socket = request.raw.socket;
  let signal = perConnection.get(socket);
  if (!signal) {
    const controller = new AbortController();
    signal = controller.signal;
    if (socket.destroyed) controller.abort();
    else socket.once('close', () => controller.abort());
    perConnection.set(socket, signal);
  }
  return signal;
}
