/**
 * The files a training run keeps in its folder besides checkpoints and sample grids: `steps.csv` (loss points every
 * LOG_EVERY steps), `metrics.jsonl` and `metrics.csv` (one record per epoch) and `loss-curve.png` (from steps.csv).
 */
import { existsSync } from 'node:fs';
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EpochEvaluation } from './evaluate.ts';
import { curvePng, type Series } from './pictures.ts';

/** Steps between points of the loss curve. */
export const LOG_EVERY = 50;

/** Means of D's and G's losses and D's outputs over a window of steps, at the step that ends it. */
export type StepLog = { step: number; dLoss: number; gLoss: number; dReal: number; dFake: number };

/** One epoch's line of metrics.jsonl: its losses, and the evaluation when one ran. */
export type EpochRecord = StepLog & {
  epoch: number;
  /** Accuracy of D's auxiliary classifier (conditional or code models), else null. */
  classAcc: number | null;
  seconds: number;
} & Partial<EpochEvaluation> & {
    /** With a weight average: 'average' (what the evaluation judged), the decay, the trained generator's figures. */
    evaluated?: 'average';
    emaDecay?: number;
    trained?: Partial<EpochEvaluation> | null;
  };

const STEPS_HEADER = 'step,d_loss,g_loss,d_real,d_fake\n';
const METRICS_HEADER =
  'epoch,step,d_loss,g_loss,d_real,d_fake,class_acc,seconds,modes_covered,kl_to_uniform,mean_confidence,label_agreement,frechet_distance\n';

export const mean = (xs: readonly number[]): number =>
  xs.length === 0 ? Number.NaN : xs.reduce((a, b) => a + b, 0) / xs.length;

export class RunLog {
  readonly stepsCsv: string;
  readonly metricsJsonl: string;
  readonly metricsCsv: string;

  constructor(readonly out: string) {
    this.stepsCsv = path.join(out, 'steps.csv');
    this.metricsJsonl = path.join(out, 'metrics.jsonl');
    this.metricsCsv = path.join(out, 'metrics.csv');
  }

  /** Starts the files afresh, unless a resumed run continues the ones it finds. */
  async start(resume: boolean): Promise<void> {
    if (resume && existsSync(this.stepsCsv)) return;
    await writeFile(this.stepsCsv, STEPS_HEADER);
    await writeFile(this.metricsJsonl, '');
    await writeFile(this.metricsCsv, METRICS_HEADER);
  }

  async step(row: StepLog): Promise<void> {
    await appendFile(this.stepsCsv, `${row.step},${row.dLoss},${row.gLoss},${row.dReal},${row.dFake}\n`);
  }

  async epoch(record: EpochRecord): Promise<void> {
    await appendFile(this.metricsJsonl, `${JSON.stringify(record)}\n`);
    const r = record;
    const cells = [
      r.epoch,
      r.step,
      r.dLoss,
      r.gLoss,
      r.dReal,
      r.dFake,
      r.classAcc ?? '',
      r.seconds.toFixed(1),
    ];
    const evaluation = [r.modesCovered, r.klToUniform, r.meanConfidence, r.labelAgreement, r.frechetDistance];
    await appendFile(this.metricsCsv, `${[...cells, ...evaluation.map((v) => v ?? '')].join(',')}\n`);
  }

  /** Redraws loss-curve.png from steps.csv: D's and G's losses above, D(x) and D(G(z)) below. */
  async curve(title: string): Promise<void> {
    const rows = (await readFile(this.stepsCsv, 'utf8'))
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',').map(Number));
    const col = (i: number): [number, number][] => rows.map((r) => [r[0]!, r[i]!]);
    const losses: Series[] = [
      { name: 'D loss', color: '#d62728', points: col(1) },
      { name: 'G loss', color: '#1f77b4', points: col(2) },
    ];
    const outputs: Series[] = [
      { name: 'D(x)', color: '#2ca02c', points: col(3) },
      { name: 'D(G(z))', color: '#ff7f0e', points: col(4) },
    ];
    await writeFile(path.join(this.out, 'loss-curve.png'), await curvePng(losses, outputs, title));
  }
}

/** The line printed when an epoch ends. */
export function epochSummary(record: EpochRecord, epochs: number, numClasses: number): string {
  const r = record;
  const e = r.modesCovered !== undefined ? r : null;
  const trained = r.trained;
  return (
    `epoch ${r.epoch}/${epochs} done in ${r.seconds.toFixed(0)} s: D ${r.dLoss.toFixed(3)} G ${r.gLoss.toFixed(3)} ` +
    `D(x) ${r.dReal.toFixed(3)} D(G(z)) ${r.dFake.toFixed(3)}` +
    (e
      ? ` | modes ${e.modesCovered}/${numClasses} KL ${e.klToUniform?.toFixed(3)} conf ${e.meanConfidence?.toFixed(3)}` +
        (e.labelAgreement != null ? ` agree ${e.labelAgreement.toFixed(3)}` : '') +
        (e.frechetDistance != null ? ` FD ${e.frechetDistance.toFixed(2)}` : '') +
        (e.codePurity !== undefined ? ` code purity ${e.codePurity.toFixed(3)}` : '') +
        (e.codeAgreement !== undefined ? ` class = code ${e.codeAgreement.toFixed(3)}` : '') +
        (r.evaluated === 'average' ? ' (average)' : '')
      : '') +
    (trained
      ? ` | trained G: KL ${trained.klToUniform?.toFixed(3)} conf ${trained.meanConfidence?.toFixed(3)}` +
        (trained.frechetDistance != null ? ` FD ${trained.frechetDistance.toFixed(2)}` : '')
      : '')
  );
}
