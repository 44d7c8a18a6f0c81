/**
 * Inference worker (a thread, or a child process with GAN_WORKER_ISOLATION=process): owns onnxruntime sessions and
 * runs them, so a long `session.run` (a synchronous native call) never blocks the HTTP event loop. Started by
 * worker-handle.ts; speaks protocol.ts.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from '../config.ts';
import { applyRowStep } from '../imaging/row-steps.ts';
import { float16BitsToFloat32, float32ToFloat16Bits } from './float16.ts';
import type {
  FromWorker,
  PackedRows,
  SessionInfo,
  SessionSpec,
  ToWorker,
  ValueInfo,
  WireTensor,
} from './protocol.ts';
import { packRows, transferList } from './protocol.ts';
import { createSession, type ThreadSettings } from './providers.ts';

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
/** Each session's float16 inputs: float32 feeds for them are converted here. */
const halfInputs = new Map<string, Set<string>>();

function describe(meta: readonly ort.InferenceSession.ValueMetadata[]): ValueInfo[] {
  return meta.map((m) =>
    m.isTensor
      ? { name: m.name, type: m.type, shape: [...m.shape] }
      : { name: m.name, type: 'non-tensor', shape: null },
  );
}

/** An output as float32 (float16 outputs are raw Uint16Array bits in onnxruntime-node) or int, copied. */
function toWire(t: ort.Tensor): WireTensor {
  const type = t.type;
  if (type === 'float16') {
    return { type: 'float32', data: float16BitsToFloat32(t.data as Uint16Array), dims: [...t.dims] };
  }
  if (type !== 'float32' && type !== 'int32' && type !== 'int64' && type !== 'bool') {
    throw new Error(`unsupported output tensor type ${type}`);
  }
  // Copy out of onnxruntime's buffer so it can be transferred.
  const data = (t.data as Float32Array | Int32Array | BigInt64Array | Uint8Array).slice();
  return { type, data, dims: [...t.dims] };
}

/** A float view of an output for post-processing, without a copy for float32. */
function floatData(t: ort.Tensor): Float32Array {
  if (t.type === 'float16') return float16BitsToFloat32(t.data as Uint16Array);
  if (t.type !== 'float32') throw new Error(`cannot post-process a ${t.type} output`);
  return t.data as Float32Array;
}

function feedTensor(key: string, name: string, t: WireTensor): ort.Tensor {
  if (t.type === 'float32' && halfInputs.get(key)?.has(name)) {
    return new ort.Tensor('float16', float32ToFloat16Bits(t.data as Float32Array), t.dims);
  }
  return new ort.Tensor(t.type, t.data, t.dims);
}

async function loadSession(
  spec: SessionSpec,
  providers: ExecutionProvider[],
  threads: ThreadSettings,
): Promise<SessionInfo> {
  try {
    const created = await createSession(spec.file, providers, threads);
    sessions.set(spec.key, created.session);
    halfInputs.set(
      spec.key,
      new Set(
        created.session.inputMetadata.filter((m) => m.isTensor && m.type === 'float16').map((m) => m.name),
      ),
    );
    return {
      key: spec.key,
      provider: created.provider,
      skipped: created.skipped,
      error: null,
      inputs: describe(created.session.inputMetadata),
      outputs: describe(created.session.outputMetadata),
    };
  } catch (err) {
    const skipped = (err as { skipped?: SessionInfo['skipped'] }).skipped ?? [];
    return {
      key: spec.key,
      provider: null,
      skipped,
      error: err instanceof Error ? err.message : String(err),
      inputs: [],
      outputs: [],
    };
  }
}

function post(message: FromWorker, transfer: ArrayBuffer[] = []) {
  if (parentPort) parentPort.postMessage(message, transfer);
  else port.postMessage(message);
}

port.on('message', async (msg: ToWorker) => {
  if (msg.type === 'load' || msg.type === 'add') {
    const infos: SessionInfo[] = [];
    for (const spec of msg.sessions) infos.push(await loadSession(spec, msg.providers, msg.threads));
    post(
      msg.type === 'load'
        ? { type: 'loaded', sessions: infos }
        : { type: 'added', id: msg.id, sessions: infos },
    );
    return;
  }
  if (msg.type === 'remove') {
    for (const key of msg.keys) {
      await sessions.get(key)?.release();
      sessions.delete(key);
      halfInputs.delete(key);
    }
    post({ type: 'removed', id: msg.id });
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
    for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = feedTensor(msg.key, name, t);
    const started = performance.now();
    const result = await session.run(feeds, msg.outputs);
    const computeMs = performance.now() - started;
    const outputs: Record<string, WireTensor> = {};
    let rows: PackedRows | undefined;
    const pp = msg.postprocess;
    for (const name of msg.outputs) {
      const t = result[name];
      if (!t) throw new Error(`output '${name}' missing from the result`);
      if (pp && pp.output === name) {
        rows = packRows(applyRowStep(pp, floatData(t), t.dims[0]!));
        outputs[name] = { type: 'float32', data: new Float32Array(0), dims: [...t.dims] };
      } else {
        outputs[name] = toWire(t);
      }
      t.dispose();
    }
    post(
      { type: 'result', id: msg.id, outputs, computeMs, ...(rows ? { rows } : {}) },
      transferList(Object.values(outputs), rows ? [rows.data] : []),
    );
  } catch (err) {
    post({ type: 'error', id: msg.id, message: err instanceof Error ? err.message : String(err) });
  }
});
