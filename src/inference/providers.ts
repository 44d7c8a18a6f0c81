/**
 * Session creation with execution-provider fallback. onnxruntime-node does not fall back by itself: a session
 * asked for ['cuda', 'cpu'] throws when the CUDA provider cannot load. So each provider is tried alone, in order,
 * and the reason each one was skipped is kept for the logs and `/v1/models`.
 */
import * as ort from 'onnxruntime-node';
import type { ExecutionProvider } from '../config.ts';

export interface CreatedSession {
  session: ort.InferenceSession;
  provider: ExecutionProvider;
  skipped: Array<{ provider: ExecutionProvider; reason: string }>;
}

export class SessionLoadError extends Error {
  override name = 'SessionLoadError';
  constructor(
    message: string,
    readonly skipped: Array<{ provider: ExecutionProvider; reason: string }>,
  ) {
    super(message);
  }
}

const FAILED_CHECK = ' was false. ';

/** The error's first line; onnxruntime's start with a source location and the failed check, which are dropped. */
function shortReason(err: unknown): string {
  const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
  const at = msg.lastIndexOf(FAILED_CHECK);
  return (at >= 0 ? msg.slice(at + FAILED_CHECK.length) : msg).slice(0, 300);
}

/** How each session uses the CPU: its intra-op thread count (0 = onnxruntime's choice) and whether they spin. */
export interface ThreadSettings {
  intraOpThreads: number;
  /**
   * Whether idle intra-op threads spin-wait for the next parallel section (onnxruntime's default) instead of
   * sleeping: spinning saves a wake-up per op but takes cores from the event loop when they are few.
   */
  spinning: boolean;
}

export async function createSession(
  file: string | Uint8Array,
  providers: readonly ExecutionProvider[],
  threads: ThreadSettings,
): Promise<CreatedSession> {
  const skipped: CreatedSession['skipped'] = [];
  for (const provider of providers) {
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: [provider],
      graphOptimizationLevel: 'all',
      // One request runs at a time per worker; parallelism comes from intra-op threads and workers.
      interOpNumThreads: 1,
      ...(threads.intraOpThreads > 0 ? { intraOpNumThreads: threads.intraOpThreads } : {}),
      // Session config entries (onnxruntime_session_options_config_keys.h), flattened to dotted keys.
      extra: { session: { intra_op: { allow_spinning: threads.spinning ? '1' : '0' } } },
    };
    try {
      const session =
        typeof file === 'string'
          ? await ort.InferenceSession.create(file, options)
          : await ort.InferenceSession.create(file, options);
      return { session, provider, skipped };
    } catch (err) {
      skipped.push({ provider, reason: shortReason(err) });
    }
  }
  const reasons = skipped.map((s) => `${s.provider}: ${s.reason}`).join('; ');
  throw new SessionLoadError(`no execution provider could load it (${reasons})`, skipped);
}
