import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_DIR } from '../../../src/routes/playground.ts';
import { startTestApp, type TestApp } from '../../helpers/app.ts';

let t: TestApp;
beforeAll(async () => {
  // With API keys on, the page itself must still load without one (it is not an inference route).
  t = await startTestApp({ models: [{}], config: { GAN_API_KEYS: 'secret' } });
});
afterAll(async () => {
  await t.close();
});

const get = (url: string) => t.app.inject({ method: 'GET', url });

describe('GET / (playground)', () => {
  it('serves the page with a strict content security policy, without an API key', async () => {
    const res = await get('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('<script type="module" src="/js/main.js"></script>');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers.etag).toBeTruthy();
  });

  it('serves every module the page loads, as JavaScript, and each import resolves to a served file', async () => {
    const html = (await get('/')).body;
    const linked = [...html.matchAll(/(?:src|href)="(\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    const modules = (await readdir(join(PUBLIC_DIR, 'js'))).map((f) => `/js/${f}`);
    expect(linked).toEqual(expect.arrayContaining(['/style.css', ...modules]));
    for (const url of modules) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type'], url).toMatch(/^(text|application)\/javascript/);
      for (const [, spec] of res.body.matchAll(/from '(\.\/[^']+)'/g)) {
        expect((await get(`/js/${spec!.slice(2)}`)).statusCode, `${url} imports ${spec}`).toBe(200);
      }
    }
    expect((await get('/style.css')).headers['content-type']).toMatch(/^text\/css/);
  });

  it('ships the real test images it offers, as 28×28 greyscale PNGs', async () => {
    const index = (await get('/real/index.json')).json<
      Array<{ dataset: string; label: number; file: string }>
    >();
    expect(new Set(index.map((r) => r.dataset))).toEqual(new Set(['mnist', 'fashion-mnist']));
    for (const dataset of ['mnist', 'fashion-mnist']) {
      expect(index.filter((r) => r.dataset === dataset).map((r) => r.label)).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
      ]);
    }
    for (const r of index) {
      const res = await get(`/real/${r.file}`);
      expect(res.headers['content-type']).toBe('image/png');
      const m = await sharp(res.rawPayload).metadata();
      expect([m.width, m.height, m.channels]).toEqual([28, 28, 1]);
      // Real digits have ink: not blank.
      const { channels } = await sharp(res.rawPayload).stats();
      expect(channels[0]!.max).toBeGreaterThan(200);
    }
  });

  it('unknown files get the JSON 404, other methods the JSON 405, and API routes keep their answers', async () => {
    for (const url of ['/nope.js', '/js/missing.js', '/real/../package.json', '/.env']) {
      const res = await get(url);
      expect(res.statusCode, url).toBe(404);
      expect(res.json().error.code, url).toBe('GAN_ERR_NOT_FOUND');
    }
    const post = await t.app.inject({ method: 'POST', url: '/' });
    expect(post.statusCode).toBe(405);
    expect(post.json().error.code).toBe('GAN_ERR_METHOD_NOT_ALLOWED');
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await get('/v1/models')).json().models[0].name).toBe('tiny');
    // Inference routes still need the key.
    const gen = await t.app.inject({ method: 'POST', url: '/generate', payload: { seed: 1 } });
    expect(gen.statusCode).toBe(401);
  });

  it('is left out of the OpenAPI document', async () => {
    const doc = (await get('/openapi.json')).json<{ paths: Record<string, unknown> }>();
    const paths = Object.keys(doc.paths);
    expect(paths).not.toContain('/');
    expect(paths.filter((p) => p.startsWith('/js') || p.startsWith('/real'))).toEqual([]);
  });

  it('every file in public/ is served', async () => {
    const files = await readdir(PUBLIC_DIR, { recursive: true, withFileTypes: true });
    for (const f of files.filter((e) => e.isFile())) {
      const rel = join(f.parentPath, f.name).slice(PUBLIC_DIR.length).replaceAll('\\', '/');
      const res = await get(rel);
      expect(res.statusCode, rel).toBe(200);
      expect(res.rawPayload.equals(await readFile(join(PUBLIC_DIR, rel))), rel).toBe(true);
    }
  });
});
