import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latentForSeed } from '../../../src/latent/random-state.ts';
import { json, PNG_SIGNATURE, startTestApp, type TestApp } from '../../helpers/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
});

const post = (url: string, body: unknown) => t.app.inject({ method: 'POST', url, ...json(body) });
const interpolate = (body: unknown) => post('/interpolate', body);

interface Frames {
  model: string;
  method: string;
  label?: number;
  frames: Array<{ t: number; png: string; latent: number[] }>;
}

const GIF_SIGNATURE = Buffer.from('GIF89a');

describe('POST /interpolate', () => {
  it('starts and ends on /generate’s images for the same seeds, byte for byte', async () => {
    for (const [method, scale, truncation] of [
      ['slerp', 1, 1],
      ['lerp', 3, 0.7],
    ] as const) {
      const res = await interpolate({
        from: { seed: 7 },
        to: { seed: 8 },
        steps: 5,
        method,
        scale,
        truncation,
        format: 'json',
      });
      expect(res.statusCode).toBe(200);
      const body = res.json<Frames>();
      expect(body.model).toBe('tiny');
      expect(body.method).toBe(method);
      expect(body.frames.map((f) => f.t)).toEqual([0, 0.25, 0.5, 0.75, 1]);
      const [first, last] = [body.frames[0]!, body.frames[4]!];
      const gen7 = await post('/generate', { seed: 7, scale, truncation });
      const gen8 = await post('/generate', { seed: 8, scale, truncation });
      expect(Buffer.from(first.png, 'base64').equals(gen7.rawPayload)).toBe(true);
      expect(Buffer.from(last.png, 'base64').equals(gen8.rawPayload)).toBe(true);
      // The latents are /generate's: RandomState(seed).randn(latentDim), times ψ.
      expect(first.latent).toEqual(Array.from(latentForSeed(7, 16).map((v) => v * truncation)));
      // The frames in between are new images.
      const middle = new Set(body.frames.map((f) => f.png));
      expect(middle.size).toBe(5);
    }
  });

  it('accepts latents as ends and gives the same walk as their seeds', async () => {
    const bySeed = await interpolate({ from: { seed: 3 }, to: { seed: 4 }, steps: 4 });
    const byLatent = await interpolate({
      from: { latent: Array.from(latentForSeed(3, 16)) },
      to: { latent: Array.from(latentForSeed(4, 16)) },
      steps: 4,
    });
    expect(byLatent.statusCode).toBe(200);
    expect(byLatent.rawPayload.equals(bySeed.rawPayload)).toBe(true);
    const mixed = await interpolate({
      from: { seed: 3 },
      to: { latent: Array.from(latentForSeed(4, 16)) },
      steps: 4,
    });
    expect(mixed.rawPayload.equals(bySeed.rawPayload)).toBe(true);
  });

  it('slerp and lerp differ between the ends: slerp keeps the latent norm up', async () => {
    const norm = (v: number[]) => Math.hypot(...v);
    const walk = async (method: string) =>
      (
        await interpolate({ from: { seed: 1 }, to: { seed: 2 }, steps: 3, method, format: 'json' })
      ).json<Frames>();
    const [s, l] = [await walk('slerp'), await walk('lerp')];
    expect(s.frames[1]!.png).not.toBe(l.frames[1]!.png);
    expect(norm(s.frames[1]!.latent)).toBeGreaterThan(norm(l.frames[1]!.latent));
  });

  it('returns a PNG strip of all steps (8 by default), or a grid with columns', async () => {
    const strip = await interpolate({ from: { seed: 1 }, to: { seed: 2 } });
    expect(strip.statusCode).toBe(200);
    expect(strip.headers['content-type']).toBe('image/png');
    expect(strip.headers['x-model']).toBe('tiny');
    expect(strip.rawPayload.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    const m = await sharp(strip.rawPayload).metadata();
    expect([m.width, m.height]).toEqual([8 * 28 + 7 * 2, 28]);
    const grid = await sharp(
      (await interpolate({ from: { seed: 1 }, to: { seed: 2 }, steps: 6, columns: 3, scale: 2 })).rawPayload,
    ).metadata();
    expect([grid.width, grid.height]).toEqual([(3 * 28 + 2 * 2) * 2, (2 * 28 + 2) * 2]);
  });

  it.each([
    ['gif', GIF_SIGNATURE],
    ['webp', Buffer.from('RIFF')],
  ] as const)(
    'returns an animated %s: one frame per step, each the image at its scale',
    async (format, sig) => {
      const res = await interpolate({
        from: { seed: 1 },
        to: { seed: 2 },
        steps: 12,
        scale: 3,
        format,
        frameDelayMs: 80,
      });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe(`image/${format}`);
      expect(res.rawPayload.subarray(0, sig.length).equals(sig)).toBe(true);
      const m = await sharp(res.rawPayload, { pages: -1 }).metadata();
      expect(m.format).toBe(format);
      expect(m.pages).toBe(12);
      expect(m.pageHeight).toBe(84);
      expect(m.width).toBe(84);
      expect(m.height).toBe(12 * 84);
      expect(m.delay).toEqual(new Array(12).fill(80));
      expect(m.loop).toBe(0);
    },
  );

  it('a walk from a seed to itself is a still: the GIF merges its identical frames, keeping the total time', async () => {
    const res = await interpolate({
      from: { seed: 9 },
      to: { seed: 9 },
      steps: 5,
      format: 'gif',
      frameDelayMs: 100,
    });
    expect(res.statusCode).toBe(200);
    const m = await sharp(res.rawPayload, { pages: -1 }).metadata();
    expect(m.pages).toBe(1);
    expect(m.delay).toEqual([500]);
    const frames = (
      await interpolate({ from: { seed: 9 }, to: { seed: 9 }, steps: 3, method: 'slerp', format: 'json' })
    ).json<Frames>().frames;
    expect(new Set(frames.map((f) => f.png)).size).toBe(1);
  });

  it('animation frames hold the walk’s images: WebP is lossless, so its last frame is /generate’s image', async () => {
    const res = await interpolate({ from: { seed: 5 }, to: { seed: 6 }, steps: 4, scale: 2, format: 'webp' });
    const frames = await sharp(res.rawPayload, { pages: -1 }).greyscale().raw().toBuffer();
    const gen = await sharp((await post('/generate', { seed: 6, scale: 2 })).rawPayload)
      .greyscale()
      .raw()
      .toBuffer();
    expect(frames.subarray(3 * 56 * 56).equals(gen)).toBe(true);
    expect(frames.subarray(0, 56 * 56).equals(gen)).toBe(false);
  });

  it('walks a conditional model with one label for every frame, and requires it', async () => {
    const res = await interpolate({
      model: 'tiny-conditional',
      from: { seed: 1 },
      to: { seed: 2 },
      label: 3,
      steps: 3,
      format: 'json',
    });
    expect(res.statusCode).toBe(200);
    const body = res.json<Frames>();
    expect(body.label).toBe(3);
    const gen = await post('/generate', { model: 'tiny-conditional', seed: 2, label: 3 });
    expect(Buffer.from(body.frames[2]!.png, 'base64').equals(gen.rawPayload)).toBe(true);
    const missing = await interpolate({ model: 'tiny-conditional', from: { seed: 1 }, to: { seed: 2 } });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error.field).toBe('label');
  });

  describe('rejects bad input with 400 naming the field', () => {
    const latent16 = Array.from(latentForSeed(1, 16));
    it.each([
      [
        'from.latent',
        { from: { latent: [1, 2, 3] }, to: { seed: 1 } },
        /expected latent of length 16, got 3/,
      ],
      [
        'to.latent',
        { from: { seed: 1 }, to: { latent: [...latent16, 0] } },
        /expected latent of length 16, got 17/,
      ],
      ['from', { from: {}, to: { seed: 1 } }, /exactly one of seed, latent, w \(got none\)/],
      ['to', { from: { seed: 1 }, to: { seed: 2, latent: latent16 } }, /got seed, latent/],
      ['to', { from: { seed: 1 } }, /.+/],
      ['from.seed', { from: { seed: -1 }, to: { seed: 1 } }, /.+/],
      ['from.latent[2]', { from: { latent: [0, 0, 'x'] }, to: { seed: 1 } }, /.+/],
      ['from.latent[0]', { from: { latent: [1e9] }, to: { seed: 1 } }, /.+/],
      ['from.extra', { from: { seed: 1, extra: true }, to: { seed: 1 } }, /extra/],
      ['steps', { from: { seed: 1 }, to: { seed: 2 }, steps: 1 }, /.+/],
      ['steps', { from: { seed: 1 }, to: { seed: 2 }, steps: 65 }, /.+/],
      ['steps', { from: { seed: 1 }, to: { seed: 2 }, steps: 2.5 }, /.+/],
      ['method', { from: { seed: 1 }, to: { seed: 2 }, method: 'cubic' }, /.+/],
      ['format', { from: { seed: 1 }, to: { seed: 2 }, format: 'bmp' }, /.+/],
      ['space', { from: { seed: 1 }, to: { seed: 2 }, space: 'w' }, /has no mapping network/],
      ['from.w', { from: { w: [1, 2] }, to: { seed: 2 } }, /w ends need space "w"/],
      ['scale', { from: { seed: 1 }, to: { seed: 2 }, scale: 17 }, /.+/],
      ['truncation', { from: { seed: 1 }, to: { seed: 2 }, truncation: 0 }, /.+/],
      ['frameDelayMs', { from: { seed: 1 }, to: { seed: 2 }, frameDelayMs: 5 }, /.+/],
      ['columns', { from: { seed: 1 }, to: { seed: 2 }, columns: 0 }, /.+/],
      ['label', { from: { seed: 1 }, to: { seed: 2 }, label: 1 }, /not conditional/],
    ])('%s', async (field, body, message) => {
      const res = await interpolate(body);
      expect(res.statusCode).toBe(400);
      const err = res.json<{ error: { code: string; field: string; message: string } }>().error;
      expect(err.code).toBe('GAN_ERR_VALIDATION');
      expect(err.field).toBe(field);
      expect(err.message).toMatch(message);
    });

    it('model: unknown models are 404', async () => {
      const res = await interpolate({ model: 'nope', from: { seed: 1 }, to: { seed: 2 } });
      expect(res.statusCode).toBe(404);
      expect(res.json().error).toMatchObject({ code: 'GAN_ERR_MODEL_NOT_FOUND', field: 'model' });
    });
  });
});
