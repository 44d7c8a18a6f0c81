import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { createSession, SessionLoadError } from '../../../src/inference/providers.ts';
import { isolationFor } from '../../../src/inference/worker-handle.ts';
import { RandomState } from '../../../src/latent/random-state.ts';

const GENERATOR = 'models/mnist-dcgan/generator.onnx';
const threads = { intraOpThreads: 1, spinning: false };

async function generate(session: ort.InferenceSession, z: Float32Array): Promise<Float32Array> {
  const input = session.inputNames[0]!;
  const out = await session.run({ [input]: new ort.Tensor('float32', z, [z.length / 100, 100]) });
  return out[session.outputNames[0]!]!.data as Float32Array;
}

describe('createSession: execution-provider fallback', () => {
  it('uses WebGPU where an adapter exists (same images as the CPU provider), else falls back to CPU and says why', async () => {
    const z = Float32Array.from(new RandomState(7).randn(4 * 100));
    const cpu = await createSession(GENERATOR, ['cpu'], threads);
    const tried = await createSession(GENERATOR, ['webgpu', 'cpu'], threads);
    try {
      const reference = await generate(cpu.session, z);
      const images = await generate(tried.session, z);
      expect(images.length).toBe(4 * 28 * 28);
      if (tried.provider === 'webgpu') {
        // A GPU machine: the WebGPU provider ran; its images match the CPU provider's.
        let maxDiff = 0;
        for (let i = 0; i < images.length; i++)
          maxDiff = Math.max(maxDiff, Math.abs(images[i]! - reference[i]!));
        expect(maxDiff).toBeLessThan(1e-4);
        expect(tried.skipped).toEqual([]);
      } else {
        // No adapter here (CI, this machine): the CPU provider took over, and the reason is kept.
        expect(tried.provider).toBe('cpu');
        expect(tried.skipped.map((s) => s.provider)).toEqual(['webgpu']);
        expect(tried.skipped[0]!.reason).toMatch(/adapter|webgpu/i);
        expect(tried.skipped[0]!.reason).not.toMatch(/onnxruntime_src|was false/); // the message, not the check
        expect(Array.from(images)).toEqual(Array.from(reference));
      }
    } finally {
      await cpu.session.release();
      await tried.session.release();
    }
  });

  it('fails with every provider’s reason when none can load the model', async () => {
    const bytes = await readFile(GENERATOR);
    const broken = new Uint8Array(bytes.subarray(0, 1000));
    const err = await createSession(broken, ['webgpu', 'cpu'], threads).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SessionLoadError);
    const e = err as SessionLoadError;
    expect(e.skipped.map((s) => s.provider)).toEqual(['webgpu', 'cpu']);
    expect(e.message).toMatch(/no execution provider could load it \(webgpu: .+; cpu: .+\)/);
  });
});

describe('isolationFor: WebGPU in several worker threads crashed the process on a GPU machine', () => {
  it('runs several workers as processes when webgpu is in the list, and says why', () => {
    const moved = isolationFor(['webgpu', 'cpu'], 4, 'thread');
    expect(moved.isolation).toBe('process');
    expect(moved.reason).toMatch(/4 workers.*webgpu.*processes/);
  });

  it('leaves every other combination as asked', () => {
    expect(isolationFor(['webgpu', 'cpu'], 1, 'thread')).toEqual({ isolation: 'thread', reason: null });
    expect(isolationFor(['webgpu', 'cpu'], 4, 'process')).toEqual({ isolation: 'process', reason: null });
    expect(isolationFor(['cuda', 'cpu'], 4, 'thread')).toEqual({ isolation: 'thread', reason: null });
  });
});
