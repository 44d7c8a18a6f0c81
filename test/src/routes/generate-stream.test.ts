/**
 * POST /generate/stream through the real app and a real listening server: the tar and NDJSON hold /generate's bytes
 * in seed order, the system tar extracts the stream, bad input gets a JSON error before any byte of the stream, a
 * client that stops reading stalls generation and one that disconnects stops it; and the cancellation of a plain
 * /generate request whose client left while it was queued.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, PNG_SIGNATURE, startPerTest, startTestApp, type TestApp } from '../../helpers/app.ts';
import { readTar } from '../../helpers/tar.ts';

const start = startPerTest({ models: [{}] });

/** The app listening on a free loopback port. */
async function listen(t: TestApp): Promise<number> {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const address = t.app.server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  return address.port;
}

const stream = (t: TestApp, body: unknown) =>
  t.app.inject({ method: 'POST', url: '/generate/stream', ...json(body) });
const generate = (t: TestApp, body: unknown) =>
  t.app.inject({ method: 'POST', url: '/generate', ...json(body) });

async function metric(t: TestApp, name: string, labels: string): Promise<number> {
  const text = (await t.app.inject('/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}
const generated = (t: TestApp) => metric(t, 'gan_images_total', 'model="tiny",network="generator"');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `read` every `everyMs` until it gives the same value `times` times in a row; that value. */
async function settled(read: () => Promise<number>, times = 5, everyMs = 100, limitMs = 30_000) {
  const deadline = Date.now() + limitMs;
  let last = await read();
  let same = 0;
  while (same < times) {
    if (Date.now() > deadline) throw new Error(`still changing after ${limitMs} ms (last ${last})`);
    await sleep(everyMs);
    const now = await read();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

async function until(check: () => Promise<boolean>, what: string, limitMs = 30_000) {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${limitMs} ms`);
    await sleep(20);
  }
}

/** A raw HTTP/1.1 POST of a JSON body on a fresh socket, the response read only as the test says. */
function rawPost(port: number, path: string, body: unknown): Socket {
  const payload = JSON.stringify(body);
  const socket = connect(port, '127.0.0.1');
  socket.write(
    `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
  );
  return socket;
}

describe('POST /generate/stream', () => {
  it('streams a tar of <seed>.png files in seed order, each byte-identical to /generate, across batches', async () => {
    const t = await start({ config: { GAN_MAX_BATCH: '4' } });
    const res = await stream(t, { seed: 5, count: 10 });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-tar');
    expect(res.headers['x-model']).toBe('tiny');
    expect(res.headers['x-seed-range']).toBe('5-14');
    expect(res.headers['x-count']).toBe('10');
    expect(res.headers['content-disposition']).toBe('attachment; filename="tiny-5-14.tar"');
    const files = readTar(res.rawPayload);
    expect(files.map((f) => f.name)).toEqual(Array.from({ length: 10 }, (_, i) => `${5 + i}.png`));
    for (const [i, f] of files.entries()) {
      expect(f.data.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
      expect(f.data.equals((await generate(t, { seed: 5 + i })).rawPayload)).toBe(true);
    }
    expect(files[0]!.mtime).toBeGreaterThan(Date.now() / 1000 - 600);
    expect(await metric(t, 'gan_requests_cancelled_total', 'model="tiny"')).toBe(0);
  });

  it('streams NDJSON lines keyed by the image format, with /generate’s JPEG bytes at the same quality and scale', async () => {
    const t = await start({ config: { GAN_MAX_BATCH: '3' } });
    const res = await stream(t, {
      seed: 100,
      count: 7,
      format: 'ndjson',
      imageFormat: 'jpeg',
      quality: 70,
      scale: 2,
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson');
    expect(res.body.endsWith('\n')).toBe(true);
    const lines = res.body
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { seed: number; jpeg: string });
    expect(lines.map((l) => l.seed)).toEqual([100, 101, 102, 103, 104, 105, 106]);
    expect(Object.keys(lines[0]!)).toEqual(['seed', 'jpeg']);
    for (const l of lines) {
      const single = await generate(t, { seed: l.seed, format: 'jpeg', quality: 70, scale: 2 });
      expect(Buffer.from(l.jpeg, 'base64').equals(single.rawPayload)).toBe(true);
    }
  });

  it('wraps seeds past 2^32 − 1 to 0, as /generate does, and names WebP files .webp', async () => {
    const t = await start({ config: { GAN_MAX_BATCH: '2' } });
    const res = await stream(t, { seed: 4294967294, count: 4, imageFormat: 'webp' });
    expect(res.headers['x-seed-range']).toBe('4294967294-1');
    expect(readTar(res.rawPayload).map((f) => f.name)).toEqual([
      '4294967294.webp',
      '4294967295.webp',
      '0.webp',
      '1.webp',
    ]);
  });

  it('takes label and truncation for a conditional model, as /generate does', async () => {
    const t = await start({ models: [{ conditional: true }] });
    const body = { model: 'tiny-conditional', seed: 3, count: 3, label: 4, truncation: 0.5 };
    const files = readTar((await stream(t, body)).rawPayload);
    for (const [i, f] of files.entries()) {
      const single = await generate(t, { model: 'tiny-conditional', seed: 3 + i, label: 4, truncation: 0.5 });
      expect(f.data.equals(single.rawPayload)).toBe(true);
    }
  });

  describe('bad input', () => {
    let shared: TestApp;
    beforeAll(async () => {
      shared = await startTestApp({
        models: [{}, { conditional: true }],
        config: { GAN_MAX_STREAM_COUNT: '100' },
      });
    });
    afterAll(async () => {
      await shared.close();
    });
    it.each([
      [{ count: 5 }, 'seed'],
      [{ seed: 0 }, 'count'],
      [{ seed: 0, count: 0 }, 'count'],
      [{ seed: 0, count: 101 }, 'count'],
      [{ seed: -1, count: 1 }, 'seed'],
      [{ seed: 0, count: 1, format: 'zip' }, 'format'],
      [{ seed: 0, count: 1, imageFormat: 'gif' }, 'imageFormat'],
      [{ seed: 0, count: 1, quality: 80 }, 'quality'],
      [{ seed: 0, count: 1, scale: 17 }, 'scale'],
      [{ seed: 0, count: 1, truncation: 0 }, 'truncation'],
      [{ seed: 0, count: 1, label: 3 }, 'label'],
      [{ seed: 0, count: 1, seeds: [1] }, 'seeds'],
      [{ model: 'tiny-conditional', seed: 0, count: 1 }, 'label'],
      [{ model: 'tiny-conditional', seed: 0, count: 1, label: 10 }, 'label'],
    ])('refuses %j with a 400 JSON error naming %s, before any stream', async (body, field) => {
      const res = await stream(shared, body);
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.json().error).toMatchObject({ code: 'GAN_ERR_VALIDATION', field });
    });
  });

  it('answers 404 for an unknown model and 503 when the queue is full, as JSON', async () => {
    const t = await start({
      models: [{ hidden: 16384 }],
      config: { GAN_MAX_BATCH: '256', GAN_MAX_QUEUE: '256' },
    });
    const missing = await stream(t, { model: 'nope', seed: 0, count: 1 });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('GAN_ERR_MODEL_NOT_FOUND');
    // One batch running, one filling the queue (both sent while the first computes), then the stream.
    const running = generate(t, { seed: 0, count: 256 });
    await until(async () => t.app.runtime.workerPool!.workers.some((w) => w.busy), 'a batch running');
    const [queued, refused] = await Promise.all([
      generate(t, { seed: 1, count: 256 }),
      stream(t, { seed: 0, count: 1000 }),
    ]);
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json().error.code).toBe('GAN_ERR_OVERLOADED');
    expect((await running).statusCode).toBe(200);
    expect(queued.statusCode).toBe(200);
  });

  it('gives a stream the system tar extracts, piped from a real connection', async () => {
    const t = await start({ config: { GAN_MAX_BATCH: '64' } });
    const port = await listen(t);
    const out = join(t.dir, 'samples');
    await mkdir(out);
    const count = 300;
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const tar = spawn('tar', ['x', '-C', out], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      tar.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      tar.on('close', (c) => resolve({ code: c, stderr }));
      const req = httpRequest(
        { port, host: '127.0.0.1', method: 'POST', path: '/generate/stream', headers: json({}).headers },
        (res) => {
          expect(res.statusCode).toBe(200);
          expect(res.headers['transfer-encoding']).toBe('chunked');
          res.pipe(tar.stdin);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ seed: 1000, count }));
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const names = (await readdir(out)).sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
    expect(names).toEqual(Array.from({ length: count }, (_, i) => `${1000 + i}.png`));
    const last = await readFile(join(out, `${1000 + count - 1}.png`));
    expect(last.equals((await generate(t, { seed: 1000 + count - 1 })).rawPayload)).toBe(true);
    await rm(out, { recursive: true });
  });

  it('stalls generation while the client reads nothing, and resumes when it reads', async () => {
    const batch = 64;
    const count = 20_000;
    const t = await start({ config: { GAN_MAX_BATCH: String(batch) } });
    const port = await listen(t);
    const socket = rawPost(port, '/generate/stream', { seed: 0, count });
    socket.pause();
    // The kernel's socket buffers take a few MB; after that, generation must stop well short of the count.
    const stalled = await settled(() => generated(t));
    expect(stalled).toBeGreaterThan(0);
    expect(stalled).toBeLessThan(count / 2);
    expect(await generated(t)).toBe(stalled);
    let bytes = 0;
    const ended = new Promise<void>((resolve) => socket.on('end', () => resolve()));
    socket.on('data', (d: Buffer) => {
      bytes += d.length;
    });
    socket.resume();
    await ended;
    socket.destroy();
    expect(await generated(t)).toBe(count);
    expect(bytes).toBeGreaterThan(count * 1024); // every entry: a 512-byte header and at least one block of PNG
  });

  it('stops generating within one batch time when the client disconnects mid-stream, and serves on', async () => {
    const batch = 64;
    const count = 100_000;
    const t = await start({ config: { GAN_MAX_BATCH: String(batch) } });
    const port = await listen(t);
    const socket = rawPost(port, '/generate/stream', { seed: 0, count });
    // Read ~1 MB while it streams at full speed, then hang up.
    await new Promise<void>((resolve) => {
      let bytes = 0;
      socket.on('data', (d: Buffer) => {
        bytes += d.length;
        if (bytes > 1 << 20) {
          socket.destroy();
          resolve();
        }
      });
    });
    const atHangUp = await generated(t);
    const after = await settled(() => generated(t));
    expect(after).toBeLessThan(count);
    // The stream keeps GAN_WORKERS + 2 batches in flight; two may be running on the two workers when the client goes:
    // they finish (within one batch's time), the queued ones are dropped, nothing after them starts.
    expect(after - atHangUp).toBeLessThanOrEqual(2 * batch);
    expect((await generate(t, { seed: 1 })).statusCode).toBe(200);
  });

  it('cuts the stream short when a batch fails after the first (a worker killed), instead of ending it cleanly', async () => {
    const t = await start({ config: { GAN_MAX_BATCH: '64', GAN_WORKER_ISOLATION: 'process' } });
    const port = await listen(t);
    const pool = t.app.runtime.workerPool!;
    const restarted = new Promise<void>((resolve) => pool.once('restarted', () => resolve()));
    const outcome = new Promise<{ bytes: number; error: string | null; complete: boolean }>((resolve) => {
      let bytes = 0;
      let killed = false;
      const req = httpRequest(
        { port, host: '127.0.0.1', method: 'POST', path: '/generate/stream', headers: json({}).headers },
        (res) => {
          res.on('data', (d: Buffer) => {
            bytes += d.length;
            const busy = pool.workers.find((w) => w.busy);
            if (!killed && bytes > 256 * 1024 && busy) {
              killed = true;
              process.kill(busy.handle.pid!, 'SIGKILL');
            }
          });
          res.on('error', (e) => resolve({ bytes, error: e.message, complete: res.complete }));
          res.on('end', () => resolve({ bytes, error: null, complete: res.complete }));
        },
      );
      req.end(JSON.stringify({ seed: 0, count: 1_000_000 }));
    });
    const { bytes, error, complete } = await outcome;
    expect(bytes).toBeGreaterThan(256 * 1024);
    expect(bytes).toBeLessThan(1_000_000 * 1024);
    expect(complete).toBe(false);
    expect(error).toMatch(/aborted/);
    await restarted;
    expect((await generate(t, { seed: 1 })).statusCode).toBe(200);
  });
});

describe('cancellation of a request whose client disconnected', () => {
  const rows = (t: TestApp) => metric(t, 'gan_inference_count_total', 'model="tiny",network="generator"');
  const cancelled = (t: TestApp) => metric(t, 'gan_requests_cancelled_total', 'model="tiny"');

  it('drops a queued /generate request when its client disconnects: it never runs, its rows leave the queue', async () => {
    const t = await start({ models: [{ hidden: 16384 }], config: { GAN_MAX_BATCH: '256' } });
    const port = await listen(t);
    const rowsBefore = await rows(t);
    const long = new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { port, host: '127.0.0.1', method: 'POST', path: '/generate', headers: json({}).headers },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ seed: 1, count: 256 }));
    });
    await until(
      async () => t.app.runtime.workerPool!.workers.some((w) => w.busy),
      'the long request running',
    );
    const queued = rawPost(port, '/generate', { seed: 7, count: 100 });
    await until(
      async () => (await metric(t, 'gan_queue_depth', 'model="tiny"')) === 100,
      '100 images queued',
    );
    queued.destroy();
    await until(async () => (await cancelled(t)) === 1, 'the cancellation');
    expect(await metric(t, 'gan_queue_depth', 'model="tiny"')).toBe(0);
    expect(await long).toBe(200);
    // Only the long request's rows ran, and its normal completion was no cancellation.
    expect((await rows(t)) - rowsBefore).toBe(256);
    expect(await cancelled(t)).toBe(1);
    // Complete answers over a real connection are no cancellations.
    const next = await generate(t, { seed: 7 });
    expect(next.statusCode).toBe(200);
    const walk = await fetch(`http://127.0.0.1:${port}/interpolate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: { seed: 1 }, to: { seed: 2 }, steps: 4 }),
    });
    expect(walk.status).toBe(200);
    await walk.arrayBuffer();
    expect(await cancelled(t)).toBe(1);
  });

  it('a keep-alive connection that carried complete answers and then closes cancels nothing, and leaves no listeners', async () => {
    const t = await start({ models: [{}] });
    const port = await listen(t);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ask = (seed: number) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest(
          { port, host: '127.0.0.1', method: 'POST', path: '/generate', agent, headers: json({}).headers },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ seed }));
      });
    try {
      // More requests on one connection than an AbortSignal's listener warning allows (10), one after another.
      const statuses: number[] = [];
      for (let seed = 0; seed < 24; seed++) statuses.push(await ask(seed));
      expect(statuses).toEqual(Array(24).fill(200));
      agent.destroy();
      const open = () =>
        new Promise<number>((resolve, reject) =>
          t.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
        );
      await until(async () => (await open()) === 0, 'the connection closed');
      expect(await cancelled(t)).toBe(0);
      expect(warnings.filter((w) => w.includes('MaxListeners'))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      agent.destroy();
    }
  });
});
