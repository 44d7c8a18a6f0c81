/**
 * Requests that once got a 500, a raw framework body or a silently wrong 200 (found by an adversarial review):
 * each now gets a 4xx in the service's error shape naming what is wrong.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, startTestApp, type TestApp } from '../../helpers/app.ts';
import { rawExchange } from '../../helpers/raw-exchange.ts';

let t: TestApp;
let port: number;
let digit: Buffer;
beforeAll(async () => {
  t = await startTestApp({ config: { GAN_HTTP_REQUEST_TIMEOUT_MS: '1000' } });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as { port: number }).port;
  digit = (await t.app.inject({ method: 'POST', url: '/generate', ...json({ seed: 1 }) })).rawPayload;
});
afterAll(async () => {
  await t.close();
});

type ErrorBody = { error: { code: string; message: string; field?: string } };

function expectError(
  res: { statusCode: number; json: <T>() => T; headers: Record<string, unknown> },
  status: number,
  field?: string,
) {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
  const body = res.json<ErrorBody>();
  expect(body.error.code).toMatch(/^GAN_ERR_/);
  expect(body.error.message.length).toBeGreaterThan(0);
  if (field !== undefined) expect(body.error.field).toBe(field);
  return body.error;
}

/** Send raw bytes over a socket and resolve with the whole reply. */
const raw = async (text: string) => (await rawExchange(port, text)).reply;

describe('request bodies', () => {
  it('refuses a compressed body and a non-UTF-8 charset with 415 naming the header', async () => {
    const gz = await t.app.inject({
      method: 'POST',
      url: '/generate',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gzipSync(JSON.stringify({ seed: 1 })),
    });
    expectError(gz, 415, 'content-encoding');
    const br = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      headers: { 'content-type': 'image/png', 'content-encoding': 'br' },
      payload: digit,
    });
    expectError(br, 415, 'content-encoding');
    const utf16 = await t.app.inject({
      method: 'POST',
      url: '/generate',
      headers: { 'content-type': 'application/json; charset=utf-16' },
      payload: Buffer.from(JSON.stringify({ seed: 1 }), 'utf16le'),
    });
    expectError(utf16, 415, 'content-type');
    // A charset inside a quoted boundary is not the body's charset, and a GET carries no body to decode.
    const quoted = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      headers: { 'content-type': 'multipart/form-data; boundary="b;charset=latin1"' },
      payload: `--b;charset=latin1\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`,
    });
    expect(quoted.statusCode).not.toBe(415);
    const get = await t.app.inject({ url: '/healthz', headers: { 'content-encoding': 'gzip' } });
    expect(get.statusCode).toBe(200);
    // identity and UTF-8 are what every client sends: still fine.
    const ok = await t.app.inject({
      method: 'POST',
      url: '/generate',
      headers: { 'content-type': 'application/json; charset=UTF-8', 'content-encoding': 'identity' },
      payload: JSON.stringify({ seed: 1 }),
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.rawPayload.equals(digit)).toBe(true);
  });

  it('says what is wrong with a body that is not JSON, and where', async () => {
    const post = (payload: string) =>
      t.app.inject({
        method: 'POST',
        url: '/generate',
        headers: { 'content-type': 'application/json' },
        payload,
      });
    expect(expectError(await post('{"seed":1,'), 400, 'body').message).toMatch(
      /not valid JSON: .*position 10/,
    );
    expect(expectError(await post(''), 400, 'body').message).toMatch(/empty/);
    for (const poisoned of ['{"seed":1,"__proto__":{"x":1}}', '{"seed":1,"constructor":{"prototype":{}}}']) {
      expect(expectError(await post(poisoned), 400, 'body').message).toMatch(/__proto__ or constructor/);
    }
  });

  it('names an unknown key itself, not the object holding it', async () => {
    const e = expectError(
      await t.app.inject({ method: 'POST', url: '/generate', ...json({ seed: 1, colour: 'red' }) }),
      400,
      'colour',
    );
    expect(e.message).toMatch(/colour/);
  });
});

describe('query strings', () => {
  it('refuses query parameters on routes that read only their JSON body', async () => {
    for (const url of ['/generate?model=tiny-conditional', '/interpolate?model=tiny-conditional']) {
      const body = url.startsWith('/generate') ? { seed: 1 } : { from: { seed: 1 }, to: { seed: 2 } };
      const e = expectError(await t.app.inject({ method: 'POST', url, ...json(body) }), 400, 'model');
      expect(e.message).toMatch(/JSON body/);
    }
  });

  it('reads whole numbers in decimal digits only: empty, hex, binary and exponent forms are refused', async () => {
    for (const label of ['', '%20', '0x1', '0b1', '1e0', '-1', '1.5']) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/discriminate?model=tiny-conditional&label=${label}`,
        headers: { 'content-type': 'image/png' },
        payload: digit,
      });
      expect(expectError(res, 400, 'label').message).toMatch(/expected number|Too small/);
    }
    // A well-formed label gets past parsing (this fixture's discriminator then says it takes none).
    const parsed = await t.app.inject({
      method: 'POST',
      url: '/discriminate?model=tiny-conditional&label=3',
      headers: { 'content-type': 'image/png' },
      payload: digit,
    });
    expect(expectError(parsed, 400, 'label').message).toMatch(/takes no label/);
  });
});

describe('/generate options that would be ignored', () => {
  it('refuses returnLatents without format json and columns with format json', async () => {
    expectError(
      await t.app.inject({ method: 'POST', url: '/generate', ...json({ seed: 1, returnLatents: true }) }),
      400,
      'returnLatents',
    );
    expectError(
      await t.app.inject({
        method: 'POST',
        url: '/generate',
        ...json({ seed: 1, count: 4, columns: 2, format: 'json' }),
      }),
      400,
      'columns',
    );
  });
});

describe('/discriminate bodies', () => {
  const multipartWith = (parts: string[], boundary = 'b0undary') => ({
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload: Buffer.concat([
      ...parts.map((p) => Buffer.from(`--${boundary}\r\n${p}\r\n`)),
      Buffer.from(`--${boundary}--\r\n`),
    ]),
  });

  it('answers a malformed multipart body with 400, not 500', async () => {
    for (const payload of [
      'garbage',
      '--b0undary\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n\x89PNG',
    ]) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/discriminate',
        headers: { 'content-type': 'multipart/form-data; boundary=b0undary' },
        payload,
      });
      expectError(res, 400, 'body');
    }
    // A file part needs a filename; without one it is a field, and the message says so.
    const unnamed = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      ...multipartWith([
        `Content-Disposition: form-data; name="image"\r\nContent-Type: image/png\r\n\r\n${'x'}`,
      ]),
    });
    expect(expectError(unnamed, 400, 'image').message).toMatch(/needs a filename/);
    const noBoundary = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      headers: { 'content-type': 'multipart/form-data' },
      payload: 'garbage',
    });
    expect(noBoundary.statusCode).toBeGreaterThanOrEqual(400);
    expect(noBoundary.statusCode).toBeLessThan(500);
  });

  it('refuses a multipart text field instead of ignoring it', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      ...multipartWith(['Content-Disposition: form-data; name="model"\r\n\r\ntiny-conditional']),
    });
    const e = expectError(res, 400, 'model');
    expect(e.message).toMatch(/query string/);
  });

  it('counts JSON images before decoding any', async () => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      // Not base64 at all: decoding any entry first would answer 400 images[0].
      ...json({ images: new Array(100_000).fill('!') }),
    });
    expectError(res, 413, 'images');
  });

  it('accepts line-wrapped and URL-safe base64, and refuses a truncated quantum as not base64', async () => {
    const plain = digit.toString('base64');
    const expected = (
      await t.app.inject({ method: 'POST', url: '/discriminate', ...json({ images: [plain] }) })
    ).json<{ results: unknown[] }>().results[0];
    const wrapped = plain.replace(/(.{76})/g, '$1\n');
    const urlSafe = digit.toString('base64url');
    const res = await t.app.inject({
      method: 'POST',
      url: '/discriminate',
      ...json({ images: [wrapped, urlSafe] }),
    });
    expect(res.statusCode).toBe(200);
    expect(res.json<{ results: unknown[] }>().results).toEqual([expected, expected]);
    expectError(
      await t.app.inject({ method: 'POST', url: '/discriminate', ...json({ images: ['A'] }) }),
      400,
      'images[0]',
    );
  });
});

describe('KServe v2 infer', () => {
  const infer = (name: string, body: unknown) =>
    t.app.inject({ method: 'POST', url: `/v2/models/${name}/infer`, ...json(body) });

  it('refuses an output asked for twice', async () => {
    const res = await infer('tiny-generator', {
      inputs: [{ name: 'z', shape: [1, 16], datatype: 'FP32', data: new Array(16).fill(0) }],
      outputs: [{ name: 'image' }, { name: 'image' }],
    });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ error: string }>().error).toMatch(/'image' asked for twice/);
  });

  it('answers 422 when finite but extreme inputs drive an output to NaN or Infinity', async () => {
    const res = await infer('tiny-discriminator', {
      inputs: [{ name: 'image', shape: [1, 28, 28, 1], datatype: 'FP32', data: new Array(784).fill(3e38) }],
    });
    expect(res.statusCode).toBe(422);
    expect(res.json<{ error: string }>().error).toMatch(/NaN or ±Infinity/);
  });
});

describe('URLs and malformed HTTP', () => {
  it('answers a known path with the wrong method 405 with Allow, and an unknown path 404', async () => {
    const put = await t.app.inject({ method: 'PUT', url: '/generate', ...json({ seed: 1 }) });
    expect(expectError(put, 405).message).toMatch(/PUT is not allowed on \/generate; use POST/);
    expect(put.headers.allow).toBe('POST');
    const postHealth = await t.app.inject({ method: 'POST', url: '/healthz' });
    expectError(postHealth, 405);
    expect(postHealth.headers.allow).toBe('GET, HEAD');
    const models = await t.app.inject({ method: 'DELETE', url: '/v1/models/tiny' });
    expectError(models, 405);
    expect(models.headers.allow).toMatch(/GET/);
    expectError(await t.app.inject({ method: 'GET', url: '/nope' }), 404);
    // Wildcard routes count (the API docs' assets), and /v2 answers in the protocol's own shape.
    const docs = await t.app.inject({ method: 'DELETE', url: '/docs/static/index.html' });
    expectError(docs, 405);
    const v2 = await t.app.inject({ method: 'GET', url: '/v2/models/tiny-generator/infer' });
    expect(v2.statusCode).toBe(405);
    expect(v2.headers.allow).toBe('POST');
    expect(v2.json()).toEqual({ error: expect.stringMatching(/GET is not allowed/) });
    const v2missing = await t.app.inject('/v2/nope');
    expect(v2missing.statusCode).toBe(404);
    expect(v2missing.json()).toEqual({ error: expect.stringMatching(/no route/) });
  });

  it('refuses query parameters on POST diagnostics and v2 infer, whose fields are in the body', async () => {
    const diag = await t.app.inject({
      method: 'POST',
      url: '/v1/models/tiny/diagnostics?truncation=0.5',
      ...json({}),
    });
    expectError(diag, 400, 'truncation');
    const v2 = await t.app.inject({
      method: 'POST',
      url: '/v2/models/tiny-generator/infer?x=1',
      ...json({}),
    });
    expect(v2.statusCode).toBe(400);
  });

  it('answers a bad %-escape and an over-long model name in the service’s error shape', async () => {
    expectError(await t.app.inject('/v1/models/%ZZ'), 400, 'url');
    const long = 'a'.repeat(300);
    const res = await t.app.inject(`/v1/models/${long}`);
    expect(res.statusCode).toBe(400);
    expect(res.json<ErrorBody>().error.code).toBe('GAN_ERR_VALIDATION');
    expectError(await t.app.inject(`/v1/models/${'a'.repeat(1200)}`), 414, 'url');
  });

  it('sends no second response after one already went out on the connection', async () => {
    // A 415 answers at once (compressed body); the body then stalls: no 408 may follow on the same socket.
    const reply = await raw(
      'POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: 100\r\n\r\n{',
    );
    expect(reply.match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(reply).toMatch(/^HTTP\/1\.1 415 /);
  });

  it('answers a malformed request with a JSON 400 and closes the connection', async () => {
    const reply = await raw('POST /generate HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as ErrorBody;
    expect(body.error.code).toBe('GAN_ERR_VALIDATION');
    expect(body.error.message).toMatch(/malformed HTTP request/);
  });
});

describe('static files, body types and encodings', () => {
  it('answers a missing file under /docs/static 404, and a path out of it 404 (not 405 or 403)', async () => {
    expect(expectError(await t.app.inject('/docs/static/nonexistent.js'), 404).code).toBe(
      'GAN_ERR_NOT_FOUND',
    );
    for (const path of ['/docs/static/../../package.json', '/docs/static//etc/passwd']) {
      const reply = await raw(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(reply, path).toMatch(/^HTTP\/1\.1 404 /);
      expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)).error.code, path).toBe(
        'GAN_ERR_NOT_FOUND',
      );
    }
  });

  it('answers a multipart body to a route that reads JSON 415 naming content-type', async () => {
    const multipartBody = {
      headers: { 'content-type': 'multipart/form-data; boundary=b0' },
      payload: '--b0\r\nContent-Disposition: form-data; name="seed"\r\n\r\n1\r\n--b0--\r\n',
    };
    for (const url of [
      '/generate',
      '/interpolate',
      '/v1/models/tiny/diagnostics',
      '/v2/models/tiny-generator/infer',
    ]) {
      const res = await t.app.inject({ method: 'POST', url, ...multipartBody });
      expect(res.statusCode, `${url}: ${res.body}`).toBe(415);
      if (!url.startsWith('/v2')) expect(res.json<ErrorBody>().error.field).toBe('content-type');
    }
  });

  it('refuses a transfer-coding other than chunked (gzip, chunked would arrive still compressed)', async () => {
    const body = gzipSync(JSON.stringify({ seed: 1 }));
    const reply = await raw(
      `POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n${body.toString('latin1')}\r\n0\r\n\r\n`,
    );
    expect(reply).toMatch(/^HTTP\/1\.1 415 /);
    const error = (JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)) as ErrorBody).error;
    expect(error).toMatchObject({ code: 'GAN_ERR_UNSUPPORTED_MEDIA_TYPE', field: 'transfer-encoding' });
    // Plain chunked is what streaming clients send: still fine.
    const text = JSON.stringify({ seed: 1 });
    const ok = await raw(
      `POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${text.length.toString(16)}\r\n${text}\r\n0\r\n\r\n`,
    );
    expect(ok).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('refuses a JSON body that repeats a key, naming it', async () => {
    const post = (url: string, payload: string) =>
      t.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
    const seed = expectError(await post('/generate', '{"seed":1,"seed":2}'), 400, 'seed');
    expect(seed.message).toMatch(/'seed' appears more than once/);
    const nested = await post('/interpolate', '{"from":{"seed":1,"seed":5},"to":{"seed":2}}');
    expectError(nested, 400, 'from.seed');
  });
});
