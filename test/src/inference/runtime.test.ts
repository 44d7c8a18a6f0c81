import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import {
  writeDcganModel,
  writeStyleganModel,
  writeStyleganSingleFile,
} from '../../../scripts/onnx/family-models.ts';
import { testConfig } from '../../../src/config.ts';
import { ModelRuntime, StartupError } from '../../../src/inference/runtime.ts';
import { Metrics } from '../../../src/prometheus.ts';
import { writeFixtureModel } from '../../fixtures/models.ts';
import { tempDir } from '../../helpers/app.ts';

const log = Fastify({ logger: false }).log;
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

async function runtimeFor(
  dir: string,
  overrides: Parameters<typeof testConfig>[0] = {},
  logger: typeof log = log,
) {
  const rt = new ModelRuntime(
    testConfig({ GAN_MODELS_DIR: dir, GAN_INTRA_OP_THREADS: '1', ...overrides }),
    logger,
    new Metrics(),
  );
  cleanup.push(() => rt.close());
  return rt;
}

/** A run of the tiny fixture generator (latent 16) on `rows` latents held in `z`. */
function tinyGenerator(rows: number, z: Float32Array = new Float32Array(rows * 16)) {
  return {
    key: 'tiny/generator' as const,
    model: 'tiny',
    network: 'generator' as const,
    rows,
    inputs: { z: { type: 'float32' as const, data: z, rowDims: [z.length / rows] } },
    outputs: ['image'],
  };
}

async function dirWith(...models: Parameters<typeof writeFixtureModel>[1][]) {
  const dir = await tempDir();
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  for (const m of models) await writeFixtureModel(dir, m);
  return dir;
}

describe('ModelRuntime faults', () => {
  it('turns an onnxruntime error into a coded 500 naming the model, and keeps serving', async () => {
    const rt = await runtimeFor(await dirWith({}));
    await rt.scan();
    await rt.start();
    // A latent of the wrong width reaches onnxruntime only if a route forgot to check it: onnxruntime rejects it.
    const bad = rt.run(tinyGenerator(1, new Float32Array(5)));
    await expect(bad).rejects.toMatchObject({
      code: 'GAN_ERR_INFERENCE_FAILED',
      statusCode: 500,
      message: "inference failed for model 'tiny'",
    });
    const good = await rt.run(tinyGenerator(1));
    expect(good.outputs.image!.dims).toEqual([1, 28, 28, 1]);
  });
});

describe('ModelRuntime input checks', () => {
  it('rejects inputs whose length does not match rows, e.g. a buffer already transferred, instead of hanging', async () => {
    const rt = await runtimeFor(await dirWith({}));
    await rt.scan();
    await rt.start();
    const z = new Float32Array(2 * 16);
    const request = tinyGenerator(2, z);
    expect((await rt.run(request)).outputs.image!.dims).toEqual([2, 28, 28, 1]);
    expect(z.length).toBe(0); // transferred to the worker, not copied
    await expect(rt.run(request)).rejects.toThrow(
      "input 'z' of tiny/generator: expected 2 × [16] = 32 values, got 0",
    );
    const fresh = { ...request, inputs: { z: { ...request.inputs.z, data: new Float32Array(32) } } };
    expect((await rt.run(fresh)).outputs.image!.dims).toEqual([2, 28, 28, 1]);
  });
});

describe('ModelRuntime thread settings', () => {
  it('gives the same images with spinning and with sleeping intra-op threads', async () => {
    const dir = await dirWith({});
    const z = Float32Array.from({ length: 3 * 16 }, (_, i) => Math.sin(i));
    const images: Float32Array[] = [];
    for (const spinning of ['true', 'false']) {
      const rt = await runtimeFor(dir, { GAN_INTRA_OP_THREADS: '2', GAN_INTRA_OP_SPINNING: spinning });
      await rt.scan();
      await rt.start();
      const out = await rt.run(tinyGenerator(3, z.slice()));
      images.push(out.outputs.image!.data as Float32Array);
    }
    expect(images[0]!.length).toBe(3 * 28 * 28);
    expect(Array.from(images[1]!)).toEqual(Array.from(images[0]!));
  });
});

describe('ModelRuntime start-up', () => {
  it('loads, checks and warms every model, falling back from cuda to cpu and saying why', async () => {
    const rt = await runtimeFor(await dirWith({}, { conditional: true }), {
      GAN_EXECUTION_PROVIDERS: 'cuda,cpu',
    });
    await rt.scan();
    await rt.start();
    expect(rt.ready).toBe(true);
    expect(rt.defaultModel).toBe('tiny');
    const m = rt.models.get('tiny')!;
    expect(m.status).toBe('ready');
    expect(m.generator.provider).toBe('cpu');
    expect(m.generator.skipped[0]!.provider).toBe('cuda');
    expect(m.generator.skipped[0]!.reason.length).toBeGreaterThan(0);
  });

  it('with webgpu listed and two workers, runs them as processes, says so, and serves (CPU fallback here)', async () => {
    const lines: string[] = [];
    const logger = Fastify({
      logger: { level: 'warn', stream: { write: (l: string) => void lines.push(l) } },
    }).log;
    const rt = await runtimeFor(
      await dirWith({}),
      { GAN_EXECUTION_PROVIDERS: 'webgpu,cpu', GAN_WORKERS: '2' },
      logger,
    );
    await rt.scan();
    await rt.start();
    expect(rt.ready).toBe(true);
    expect(lines.some((l) => /running the workers as processes/.test(l))).toBe(true);
    const out = await rt.run(tinyGenerator(2));
    expect(out.outputs.image!.dims).toEqual([2, 28, 28, 1]);
  });

  it('honours GAN_DEFAULT_MODEL and rejects an unknown one', async () => {
    const dir = await dirWith({}, { conditional: true });
    const rt = await runtimeFor(dir, { GAN_DEFAULT_MODEL: 'tiny-conditional' });
    await rt.scan();
    expect(rt.defaultModel).toBe('tiny-conditional');
    const bad = await runtimeFor(dir, { GAN_DEFAULT_MODEL: 'nope' });
    await expect(bad.scan()).rejects.toThrow(/GAN_DEFAULT_MODEL is 'nope'/);
  });

  it('stops start-up naming the manifest and the latent mismatch', async () => {
    const rt = await runtimeFor(await dirWith({ name: 'x', latentDim: 100, mismatchLatentDim: 64 }));
    await rt.scan();
    const err = await rt.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StartupError);
    expect((err as Error).message).toMatch(/x\/model\.json: latentDim is 100 but generator input 'z' has 64/);
  });

  it('stops start-up naming a corrupted ONNX file', async () => {
    const dir = await dirWith({});
    await truncate(join(dir, 'tiny', 'generator.onnx'), 100);
    const rt = await runtimeFor(dir);
    await rt.scan();
    await expect(rt.start()).rejects.toThrow(
      /tiny\/generator\.onnx: no execution provider could load it \(cpu: /,
    );
  });

  it('with GAN_SKIP_BROKEN_MODELS starts without the broken model and reports it failed', async () => {
    const dir = await dirWith({}, { name: 'broken' });
    await writeFile(join(dir, 'broken', 'discriminator.onnx'), 'garbage');
    const rt = await runtimeFor(dir, { GAN_SKIP_BROKEN_MODELS: 'true' });
    await rt.scan();
    await rt.start();
    expect(rt.models.get('broken')!.status).toBe('failed');
    expect(rt.models.get('tiny')!.status).toBe('ready');
    expect(rt.defaultModel).toBe('tiny');
    expect(() => rt.model('broken')).toThrow(/unavailable/);
  });

  it('loads a folder of family models where some are broken, naming each problem', async () => {
    const dir = await dirWith();
    await writeDcganModel(dir, { name: 'dcgan' });
    // A synthesis network built for 10 ws while the manifest says 8: the mapping's ws do not fit it.
    const stylegan = await writeStyleganModel(dir, { name: 'bad-ws' });
    const manifest = JSON.parse(await readFile(join(stylegan, 'model.json'), 'utf8'));
    manifest.generator.inputs[0].shape = [8, 512];
    await writeFile(join(stylegan, 'model.json'), JSON.stringify(manifest));
    // A generator-only model whose manifest forgot an input the network takes.
    const single = await writeStyleganSingleFile(dir, { name: 'unnamed-input' });
    const m2 = JSON.parse(await readFile(join(single, 'model.json'), 'utf8'));
    m2.generator.inputs = m2.generator.inputs.filter((i: { role: string }) => i.role !== 'constant');
    await writeFile(join(single, 'model.json'), JSON.stringify(m2));
    // A mapping network whose file is missing.
    const gone = await writeStyleganModel(dir, { name: 'no-mapping-file' });
    await rm(join(gone, 'mapping.onnx'));

    const strict = await runtimeFor(dir);
    const refused = await strict.scan().then(
      () => strict.start().then(() => null),
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(StartupError);
    expect((refused as Error).message).toContain('no-mapping-file/mapping.onnx: mapping network not found');

    const rt = await runtimeFor(dir, { GAN_SKIP_BROKEN_MODELS: 'true' });
    await rt.scan();
    await rt.start();
    expect(rt.models.get('dcgan')!.status).toBe('ready');
    expect(rt.models.has('no-mapping-file')).toBe(false);
    expect(rt.models.get('bad-ws')!.error).toContain(
      "w shape [8, 512] is 8 but generator input 'ws' has 10 (dimension 1)",
    );
    expect(rt.models.get('unnamed-input')!.error).toContain(
      "generator input 'noise_mode' is not named in the manifest (give it a role, e.g. constant)",
    );
  });

  it('refuses to start with no models', async () => {
    const rt = await runtimeFor(await dirWith());
    await expect(rt.scan()).rejects.toThrow(/no models found/);
  });
});
