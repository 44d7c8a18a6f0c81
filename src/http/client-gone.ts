/**
 * An AbortSignal that aborts when a request's client goes away, so the work done for it (queued inference, a bulk
 * stream) stops.
 *
 * One signal per connection, not per request: an HTTP/1.1 client can only abandon a request by closing its
 * connection, and an AbortController per request costs more than a count-1 /generate does anywhere else on the event
 * loop (it lives as long as the request waits, so under load it outlives the young generation and every one of them
 * is collected by a full GC). A request whose reply is complete has stopped listening (the scheduler removes its
 * listener when its rows return), so a connection that closes later cancels nothing.
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
