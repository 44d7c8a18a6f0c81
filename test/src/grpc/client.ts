/**
 * A real gRPC client of `inference.GRPCInferenceService`, generated at run time from the server's own proto file,
 * with each unary method as a promise.
 */
import { type Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { inferenceService } from '../../../src/grpc/proto.ts';

type Callback = (err: ServiceError | null, response: unknown) => void;
type Unary = (request: unknown, metadata: Metadata, callback: Callback) => void;

export interface InferenceClient {
  call<T = Record<string, unknown>>(
    method: string,
    request?: object,
    headers?: Record<string, string>,
  ): Promise<T>;
  close(): void;
}

export function inferenceClient(port: number): InferenceClient {
  const { Client: Ctor } = inferenceService();
  const client = new Ctor(`127.0.0.1:${port}`, credentials.createInsecure()) as Client &
    Record<string, Unary>;
  return {
    call: (method, request = {}, headers = {}) =>
      new Promise((resolve, reject) => {
        const metadata = new Metadata();
        for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
        client[method]!(request, metadata, (err, response) =>
          err ? reject(err) : resolve(response as never),
        );
      }),
    close: () => client.close(),
  };
}

/** The error a call rejects with, or a failure when it resolves. */
export async function grpcError(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error('the call succeeded; expected an error');
}
