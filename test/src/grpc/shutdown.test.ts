/**
 * The real process with GAN_GRPC_PORT set: gRPC listens beside HTTP, and SIGTERM drains in-flight gRPC calls
 * (every accepted ModelInfer completes) before the workers are released and the process exits 0.
 */
import { rm } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startService, waitFor, waitReady } from '../../../scripts/service-process.ts';
import { writeFixtureModel } from '../../fixtures/models.ts';
import { tempDir } from '../../helpers/app.ts';
import { grpcError, inferenceClient } from './client.ts';

let models: string;
beforeAll(async () => {
  models = await tempDir();
  // A wide hidden layer makes a 256-row batch slow enough to still be running at SIGTERM.
  await writeFixtureModel(models, { hidden: 16384 });
});
afterAll(async () => {
  await rm(models, { recursive: true, force: true });
});

describe('gan-serve process with gRPC', () => {
  it('on SIGTERM finishes every accepted gRPC call, refuses new ones, and exits 0', async () => {
    const grpcPort = await freePort();
    const svc = await startService({
      GAN_MODELS_DIR: models,
      GAN_GRPC_PORT: String(grpcPort),
      GAN_MAX_BATCH: '256',
      GAN_INTRA_OP_THREADS: '1',
    });
    await waitReady(svc);
    expect(svc.output()).toMatch(
      new RegExp(`gRPC \\(inference.GRPCInferenceService\\) on 127.0.0.1:${grpcPort}`),
    );
    const client = inferenceClient(grpcPort);
    try {
      const rows = 256;
      const request = {
        model_name: 'tiny-generator',
        inputs: [{ name: 'z', datatype: 'FP32', shape: [rows, 16] }],
        raw_input_contents: [Buffer.alloc(rows * 16 * 4)],
      };
      const calls = Array.from({ length: 3 }, () =>
        client.call<{ outputs: Array<{ shape: number[] }>; raw_output_contents: Buffer[] }>(
          'ModelInfer',
          request,
        ),
      );
      await waitFor(
        svc,
        async () =>
          /gan_queue_depth\{model="tiny"\} [1-9]/.test(await (await fetch(`${svc.url}/metrics`)).text()),
        'queued work',
      );
      svc.child.kill('SIGTERM');
      // Once readiness turns (503, or no answer at all once the process is gone) the service has stopped taking work.
      for (let ready = true; ready; ) {
        ready =
          (await fetch(`${svc.url}/readyz`).then(
            (r) => r.status,
            () => 0,
          )) === 200;
        if (ready) await new Promise((r) => setTimeout(r, 20));
      }
      const late = await grpcError(client.call('ModelInfer', request));
      expect(late.code).toBe(status.UNAVAILABLE);
      for (const res of await Promise.all(calls)) {
        expect(res.outputs[0]!.shape).toEqual([rows, 28, 28, 1]);
        expect(res.raw_output_contents[0]!.length).toBe(rows * 784 * 4);
      }
      expect(await svc.exited).toBe(0);
      expect(svc.output()).toMatch(/shut down cleanly/);
    } finally {
      client.close();
      svc.child.kill('SIGKILL');
    }
  });
});
