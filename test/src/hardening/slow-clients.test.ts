/**
 * Slow and stalled clients are cut off by the HTTP server's timeouts without reaching an inference worker, while
 * everyone else is served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../../helpers/app.ts';
import { rawExchange } from '../../helpers/raw-exchange.ts';

let t: TestApp;
let port: number;
beforeAll(async () => {
  t = await startTestApp({ models: [{}], config: { GAN_HTTP_REQUEST_TIMEOUT_MS: '1000' } });
  await t.app.listen({ host: '127.0.0.1', port: 0 });
  port = (t.app.server.address() as { port: number }).port;
});
afterAll(async () => {
  await t.close();
});

/** Write `text` on a fresh connection and resolve with what the server sent before it closed it. */
const stall = (text: string) => rawExchange(port, text);

describe('slow and stalled clients', () => {
  it('cuts off a client that never finishes its headers, a slow body upload, and an idle connection', async () => {
    const execsBefore = (await t.app.inject('/metrics')).body;
    const [headers, body, idle] = await Promise.all([
      stall('POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'),
      stall(
        'POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"seed":',
      ),
      stall(''),
      // Meanwhile a normal client is served.
      (async () => {
        const res = await fetch(`http://127.0.0.1:${port}/generate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: '{"seed":1}',
        });
        expect(res.status).toBe(200);
      })(),
    ]);
    // Each is answered 408 (Node's request timeout covers a connection that never sent a byte too) and closed.
    expect(headers.reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(body.reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(idle.reply).toMatch(/^HTTP\/1\.1 408 /);
    // None of them reached a worker: only the normal request ran the generator.
    const count = (text: string) =>
      Number(/gan_inference_exec_count_total\{model="tiny",network="generator"\} (\d+)/.exec(text)?.[1] ?? 0);
    expect(count((await t.app.inject('/metrics')).body) - count(execsBefore)).toBe(1);
    expect(t.app.runtime.busy).toBe(false);
  });
});
