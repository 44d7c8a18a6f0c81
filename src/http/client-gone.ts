/**
 * An AbortSignal that aborts when a request's client goes away before its reply is complete, so the work done for it
 * (queued inference, a bulk stream) stops. A reply that was sent in full never aborts it.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export function clientGoneSignal(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const res = reply.raw;
  // The request's own 'close' fires once its body has been read, so it says nothing about the client; the
  // response's 'close' fires when the reply is complete or the connection is gone, told apart by writableFinished.
  const gone = () => {
    if (!res.writableFinished) controller.abort();
  };
  if (res.destroyed || request.raw.socket?.destroyed) gone();
  else res.once('close', gone);
  return controller.signal;
}
