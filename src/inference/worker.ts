/**
 * Inference worker (a thread, or a child process with GAN_WORKER_ISOLATION=process): owns onnxruntime sessions and
 * runs them, so a long `session.run` (a synchronous native call) never blocks the HTTP event loop. Started by
 * worker-handle.ts; speaks protocol.ts.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { floatToPixels } from '../imaging/pixels.ts';
import { encodePngSync } from '../imaging/png.ts';
import type { FromWorker, PackedPngs, SessionInfo, ToWorker, ValueInfo, WireTensor } from './protocol.ts';
import { packPngs, transferList } from './protocol.ts';
import { createSession } from './providers.ts';

/** The channel to the pool: a worker thread's port, or a forked process's IPC channel. */
const port = parentPort ?? {
  on: (event: 'message', listener: (msg: ToWorker) => void) => process.on(event, listener),
  postMessage: (message: FromWorker) => process.send?.(message),
};
if (!parentPort && !process.send)
  throw new Error('worker.ts must run as a worker thread or a forked process');
// A process worker whose server went away must not linger.
if (!parentPort) process.on('disconnect', () => process.exit(0));
// Providers that fail to load are reported by the service itself; keep onnxruntime's native log quiet.
ort.env.logLevel = 'fatal';
const sessions = new Map<string, ort.InferenceSession>();

function describe(meta: readonly ort.InferenceSession.ValueMetadata[]): ValueInfo[] {
  return meta.map((m) =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: [...m.shape] }
      : { name: m.name, type: 'non-tensor', shape: null },
  );
}

function toWire(t: ort.Tensor): WireTensor {
  const type = t.type;
  if (type !== 'float32' && type !== 'int32' && type !== 'int64') {
    throw new Error(`unsupported output tensor type ${type}`);
  }
  // Copy out of onnxruntime's buffer so it can be transferred.
  const data = (t.data as Float32Array | Int32Array | BigInt64Array).slice();
  return { type, data, dims: [...t.dims] };
}

function post(message: FromWorker, transfer: ArrayBuffer[] = []) {
  if (parentPort) parentPort.postMessage(message, transfer);
  else port.postMessage(message);
}

port.on('message', async (msg: ToWorker) => {
  if (msg.type === 'load') {
    const infos: SessionInfo[] = [];
    for (const spec of msg.sessions) {
      try {
        const created = await createSession(spec.file, msg.providers, msg.threads);
        sessions.set(spec.key, created.session);
        infos.push({
          key: spec.key,
          provider: created.provider,
          skipped: created.skipped,
          error: null,
          inputs: describe(created.session.inputMetadata),
          outputs: describe(created.session.outputMetadata),
        });
      } catch (err) {
        const skipped = (err as { skipped?: SessionInfo['skipped'] }).skipped ?? [];
        infos.push({
          key: spec.key,
          provider: null,
          skipped,
          error: err instanceof Error ? err.message : String(err),
          inputs: [],
          outputs: [],
        });
      }
    }
    post({ type: 'loaded', sessions: infos });
    return;
  }
  if (msg.type === 'release') {
    for (const s of sessions.values()) await s.release();
    sessions.clear();
    post({ type: 'released' });
    return;
  }
  const session = sessions.get(msg.key);
  if (!session) {
    post({ type: 'error', id: msg.id, message: `no session loaded for ${msg.key}` });
    return;
  }
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    const started = performance.now();
    const result = await session.run(feeds, msg.outputs);
    const computeMs = performance.now() - started;
    const outputs: Record<string, WireTensor> = {};
    let pixels: Uint8Array | undefined;
    let pngs: PackedPngs | undefined;
    for (const name of msg.outputs) {
      const t = result[name];
      if (!t) throw new Error(`output '${name}' missing from the result`);
      const pp = msg.postprocess;
      if (pp && pp.output === name) {
        pixels = floatToPixels(t.data as Float32Array, pp.range, pp.layout, pp.height, pp.width, pp.channels);
        outputs[name] = { type: 'float32', data: new Float32Array(0), dims: [...t.dims] };
        if (pp.png) {
          const perImage = pp.height * pp.width * pp.channels;
          const all = pixels;
          const images = Array.from({ length: t.dims[0]! }, (_, i) =>
            encodePngSync(
              {
                data: all.subarray(i * perImage, (i + 1) * perImage),
                width: pp.width,
                height: pp.height,
                channels: pp.channels,
              },
              pp.png!.scale,
            ),
          );
          pngs = packPngs(images);
          pixels = undefined;
        }
      } else {
        outputs[name] = toWire(t);
      }
      t.dispose();
    }
    post(
      {
        type: 'result',
        id: msg.id,
        outputs,
        computeMs,
        ...(pixels ? { pixels } : {}),
        ...(pngs ? { pngs } : {}),
      },
      transferList(Object.values(outputs), [...(pixels ? [pixels] : []), ...(pngs ? [pngs.data] : [])]),
    );
  } catch (err) {
    post({ type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) });
  }
});
