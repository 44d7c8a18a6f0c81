/**
 * The Open Inference Protocol's gRPC service (`inference.GRPCInferenceService`) on its own port (GAN_GRPC_PORT),
 * beside the HTTP API and sharing everything with it: the v2 implementation (src/services/v2-infer.ts), the
 * scheduler and workers, API keys (`authorization: Bearer <key>` metadata), the rate limit, the body size limit
 * (the largest message accepted), metrics and graceful shutdown (the app's preClose hook drains in-flight calls
 * before the runtime is released). `buildApp` attaches it as `app.grpc`; only src/server.ts makes it listen.
 */
import {
  type ServiceError as GrpcError,
  type handleUnaryCall,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  status,
} from '@grpc/grpc-js';
import type { FastifyInstance } from 'fastify';
import { ServiceError, toServiceError } from '../errors.ts';
import { infer, modelMetadata, modelReady, serverMetadata } from '../services/v2-infer.ts';
import { decodeInferRequest, encodeInferResult } from './codec.ts';
import { inferenceService, type ModelInferRequest, type ModelInferResponse, type ModelRef } from './proto.ts';
import { FixedWindowLimiter, peerAddress } from './rate-limit.ts';

declare module 'fastify' {
  interface FastifyInstance {
    grpc: GrpcInferenceServer;
  }
}

/** The gRPC status for a service error's HTTP status. */
export function grpcStatus(httpStatus: number): status {
  switch (httpStatus) {
    case 400:
    case 422:
      return status.INVALID_ARGUMENT;
    case 401:
      return status.UNAUTHENTICATED;
    case 404:
      return status.NOT_FOUND;
    case 409:
      return status.FAILED_PRECONDITION;
    case 413:
    case 429:
      return status.RESOURCE_EXHAUSTED;
    case 503:
      return status.UNAVAILABLE;
    case 504:
      return status.DEADLINE_EXCEEDED;
    default:
      return httpStatus >= 500 ? status.INTERNAL : status.INVALID_ARGUMENT;
  }
}

/** `host:port` for bindAsync, with an IPv6 host in brackets. */
const address = (host: string, port: number) => `${host.includes(':') ? `[${host}]` : host}:${port}`;

export class GrpcInferenceServer {
  private server: Server | null = null;
  private readonly keys: Set<string>;
  private readonly limiter: FixedWindowLimiter | null;

  constructor(private readonly app: FastifyInstance) {
    this.keys = new Set(app.config.GAN_API_KEYS);
    const perMinute = app.config.GAN_RATE_LIMIT_PER_MINUTE;
    this.limiter = perMinute > 0 ? new FixedWindowLimiter(perMinute, 60_000) : null;
  }

  get listening(): boolean {
    return this.server !== null;
  }

  /** Bind and serve; resolves to the port bound (the one asked, or a free one for 0). */
  async listen(host: string, port: number): Promise<number> {
    if (this.server) throw new Error('the gRPC server is already listening');
    const server = new Server({
      'grpc.max_receive_message_length': this.app.config.GAN_BODY_LIMIT_BYTES,
    });
    server.addService(inferenceService().service, this.handlers());
    const bound = await new Promise<number>((resolve, reject) => {
      server.bindAsync(address(host, port), ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      );
    });
    this.server = server;
    return bound;
  }

  /** Stop taking calls and wait for the ones in flight to finish. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  }

  /** Shutdown, API key and rate limit, in the order the HTTP hooks apply them to inference routes. */
  private admit(call: ServerUnaryCall<unknown, unknown>): void {
    if (this.app.lifecycle.shuttingDown) {
      throw new ServiceError('GAN_ERR_SHUTTING_DOWN', 'the service is shutting down', undefined, {
        retryAfter: 1,
      });
    }
    if (this.limiter) {
      const wait = this.limiter.take(peerAddress(call.getPeer()));
      if (wait !== null) {
        throw new ServiceError(
          'GAN_ERR_RATE_LIMITED',
          `rate limit of ${this.app.config.GAN_RATE_LIMIT_PER_MINUTE} requests per minute exceeded`,
          undefined,
          { retryAfter: wait },
        );
      }
    }
    if (this.keys.size === 0) return;
    const header = call.metadata.get('authorization')[0];
    const match = /^Bearer\s+(.+)$/i.exec(typeof header === 'string' ? header : '');
    if (!match || !this.keys.has(match[1]!.trim())) {
      throw new ServiceError(
        'GAN_ERR_UNAUTHORIZED',
        'missing or unknown API key (metadata authorization: Bearer <key>)',
        'authorization',
      );
    }
  }

  /** A unary handler with admission (for inference), error mapping, logging and metrics. */
  private unary<Req, Res>(
    method: string,
    inference: boolean,
    run: (request: Req) => Res | Promise<Res>,
  ): handleUnaryCall<Req, Res> {
    const { metrics, log } = this.app;
    return (call, callback) => {
      const started = performance.now();
      const done = (code: status) => {
        metrics.grpcRequests.inc({ method, code: status[code] });
        metrics.grpcDuration.observe({ method }, (performance.now() - started) / 1000);
      };
      new Promise<Res>((resolve) => {
        if (inference) this.admit(call as ServerUnaryCall<unknown, unknown>);
        resolve(run(call.request));
      }).then(
        (response) => {
          done(status.OK);
          callback(null, response);
        },
        (raw: unknown) => {
          const err = toServiceError(raw);
          const code = grpcStatus(err.statusCode);
          if (err.statusCode >= 500)
            log.error({ err: raw, code: err.code, grpc: method }, 'gRPC call failed');
          else log.info({ code: err.code, msg: err.message, grpc: method }, 'gRPC call rejected');
          const metadata = new Metadata();
          if (err.retryAfter !== undefined) metadata.set('retry-after', String(err.retryAfter));
          done(code);
          const details = err.code === 'GAN_ERR_INTERNAL' ? 'internal error' : err.message;
          callback({ code, details, metadata } as Partial<GrpcError> as GrpcError);
        },
      );
    };
  }

  private handlers() {
    const { runtime, lifecycle } = this.app;
    return {
      ServerLive: this.unary('ServerLive', false, () => ({ live: true })),
      ServerReady: this.unary('ServerReady', false, () => ({
        ready: runtime.ready && !lifecycle.shuttingDown,
      })),
      ServerMetadata: this.unary('ServerMetadata', false, () => serverMetadata()),
      ModelReady: this.unary('ModelReady', false, (r: ModelRef) => ({
        ready: modelReady(runtime, r.name, r.version),
      })),
      ModelMetadata: this.unary('ModelMetadata', false, (r: ModelRef) =>
        modelMetadata(runtime, r.name, r.version),
      ),
      ModelInfer: this.unary(
        'ModelInfer',
        true,
        async (r: ModelInferRequest): Promise<ModelInferResponse> =>
          encodeInferResult(await infer(runtime, r.model_name, decodeInferRequest(r), r.model_version)),
      ),
    };
  }
}

/** Attach the (not yet listening) gRPC server to the app, drained by the app's close before the runtime goes. */
export function installGrpc(app: FastifyInstance): void {
  app.decorate('grpc', new GrpcInferenceServer(app));
  app.addHook('preClose', async () => {
    await app.grpc.close();
  });
}
