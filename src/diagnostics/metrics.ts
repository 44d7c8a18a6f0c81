/**
 * Pure mode-collapse metrics over classifier outputs: class histogram, modes covered, KL to uniform, confidence,
 * Fréchet distance between Gaussians fitted to features, precision/recall of feature manifolds (Kynkäänniemi et
 * al. 2019), real-vs-fake ROC AUC, label agreement, and the verdict that reads them. Matrix work uses ml-matrix.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** A class "is covered" when it holds at least this share of the samples (uniform over 10 classes is 10%). */
export const MODE_SHARE = 0.02;
/** Collapse is suspected when fewer than this fraction of the classes are covered (8 of 10). */
export const MIN_COVERED_FRACTION = 0.8;
/** …or when KL(histogram ‖ uniform) exceeds this, in nats (a 10-class histogram with half the samples in one
 * class and the rest spread evenly has KL ≈ 0.5; sampling noise on 2,000 samples is ≈ 0.002). */
export const MAX_KL = 0.3;
/** The head share used in the verdict's wording: "3 of 10 classes cover 94% of samples" names the fewest
 * classes that together hold at least this share. */
export const HEAD_SHARE = 0.9;
/** Real-vs-fake AUC above this: the discriminator separates almost perfectly (the imbalance theory warns of). */
export const MAX_DISCRIMINATOR_AUC = 0.99;
/** Mode dropping: recall below this fraction of the real floor's recall while precision stays above it. */
export const RECALL_DROP = 0.5;
/** Neighbourhood size of the precision/recall manifolds (Kynkäänniemi et al. 2019 use k = 3). */
export const PR_K = 3;

export interface ClassHistogram {
  /** Samples per predicted class. */
  counts: number[];
  /** counts / total */
  shares: number[];
  total: number;
}

/**
 * Argmax class of each row.
 * @param scores float32 [n, k] probabilities or logits
 * @returns int32 [n]
 */
export function predictedClasses(scores: Float32Array, n: number, k: number): Int32Array {
  if (scores.length !== n * k) throw new RangeError(`expected ${n}x${k} scores, got ${scores.length}`);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (scores[i * k + c]! > scores[i * k + best]!) best = c;
    out[i] = best;
  }
  return out;
}

/** Histogram of class ids in 0..k-1. */
export function classHistogram(classes: ArrayLike<number>, k: number): ClassHistogram {
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= k)
      throw new RangeError(`class ${c} at ${i} is not in 0..${k - 1}`);
    counts[c]!++;
  }
  const total = classes.length;
  return { counts, shares: counts.map((c) => (total === 0 ? 0 : c / total)), total };
}

/** Classes holding at least `share` of the samples. */
export function modesCovered(hist: ClassHistogram, share = MODE_SHARE): number {
  return hist.shares.filter((s) => s >= share).length;
}

/** KL(histogram ‖ uniform) in nats: 0 when every class appears equally, ln k when one class takes all. */
export function klToUniform(hist: ClassHistogram): number {
  const k = hist.counts.length;
  let kl = 0;
  for (const p of hist.shares) if (p > 0) kl += p * Math.log(p * k);
  return Math.max(0, kl);
}

/** The fewest classes that together hold at least `share` of the samples, and the share they hold. */
export function headClasses(hist: ClassHistogram, share = HEAD_SHARE): { classes: number; share: number } {
  const sorted = [...hist.shares].sort((a, b) => b - a);
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) {
    sum += sorted[i]!;
    if (sum >= share - 1e-12) return { classes: i + 1, share: sum };
  }
  return { classes: sorted.length, share: sum };
}

/**
 * Mean of each row's largest probability.
 * @param probs float32 [n, k], rows summing to 1
 */
export function meanConfidence(probs: Float32Array, n: number, k: number): number {
  if (probs.length !== n * k) throw new RangeError(`expected ${n}x${k} probabilities, got ${probs.length}`);
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    let best = probs[i * k]!;
    for (let c = 1; c < k; c++) best = Math.max(best, probs[i * k + c]!);
    sum += best;
  }
  return sum / n;
}

/** Softmax of each row, in place. @param logits float32 [n, k] */
export function softmaxRows(logits: Float32Array, n: number, k: number): Float32Array {
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, logits[i * k + c]!);
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp(logits[i * k + c]! - max);
      logits[i * k + c] = e;
      sum += e;
    }
    for (let c = 0; c < k; c++) logits[i * k + c] = logits[i * k + c]! / sum;
  }
  return logits;
}

/** Share of samples whose predicted class is the label the generator was asked for (conditional models). */
export function labelAgreement(requested: ArrayLike<number>, predicted: ArrayLike<number>): number {
  if (requested.length !== predicted.length) {
    throw new RangeError(`expected ${requested.length} predictions, got ${predicted.length}`);
  }
  if (requested.length === 0) return 0;
  let agree = 0;
  for (let i = 0; i < requested.length; i++) if (requested[i] === predicted[i]) agree++;
  return agree / requested.length;
}

/** Per requested label: how many samples, and the share the classifier put in that label. */
export function perLabelAgreement(
  requested: ArrayLike<number>,
  predicted: ArrayLike<number>,
  k: number,
): Array<{ label: number; samples: number; agreement: number }> {
  const n = new Array<number>(k).fill(0);
  const hit = new Array<number>(k).fill(0);
  for (let i = 0; i < requested.length; i++) {
    const l = requested[i]!;
    n[l]!++;
    if (predicted[i] === l) hit[l]!++;
  }
  return n.map((samples, label) => ({
    label,
    samples,
    agreement: samples === 0 ? 0 : hit[label]! / samples,
  }));
}

export interface Gaussian {
  /** [d] */
  mean: number[];
  /** [d, d], symmetric */
  covariance: Matrix;
}

/**
 * Mean and unbiased covariance (divisor n − 1, as numpy.cov and pytorch-fid) of feature rows.
 * @param features float32 [n, d]
 */
export function fitGaussian(features: Float32Array, n: number, d: number): Gaussian {
  if (features.length !== n * d) throw new RangeError(`expected ${n}x${d} features, got ${features.length}`);
  if (n < 2) throw new RangeError(`a covariance needs at least 2 samples, got ${n}`);
  const x = new Matrix(n, d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x.set(i, j, features[i * d + j]!);
  const mean = x.mean('column');
  x.subRowVector(mean);
  const covariance = x
    .transpose()
    .mmul(x)
    .div(n - 1);
  return { mean, covariance };
}

/** Symmetric square root of a symmetric positive semi-definite matrix: V·diag(√max(λ, 0))·Vᵀ. */
export function sqrtPsd(m: Matrix): Matrix {
  const evd = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const v = evd.eigenvectorMatrix;
  const roots = evd.realEigenvalues.map((l) => Math.sqrt(Math.max(l, 0)));
  // ml-matrix's element-wise methods work in place: scale a copy.
  return v.clone().mulRowVector(roots).mmul(v.transpose());
}

const symmetrize = (m: Matrix): Matrix => Matrix.add(m, m.transpose()).div(2);

/**
 * Fréchet distance between two Gaussians: d² = ‖μ₁−μ₂‖² + Tr(C₁ + C₂ − 2(C₁C₂)^½). The trace of (C₁C₂)^½ is
 * computed from the symmetric form (√C₁·C₂·√C₁)^½, whose eigenvalues are those of C₁C₂'s square root and which,
 * unlike C₁C₂, is symmetric, so a symmetric eigendecomposition is exact and stable.
 * @returns d² (FID reports this squared form), ≥ 0
 */
export function frechetDistance(a: Gaussian, b: Gaussian): number {
  const d = a.mean.length;
  if (b.mean.length !== d || a.covariance.rows !== d || b.covariance.rows !== d) {
    throw new RangeError(`expected Gaussians of the same dimension, got ${d} and ${b.mean.length}`);
  }
  let meanTerm = 0;
  for (let i = 0; i < d; i++) meanTerm += (a.mean[i]! - b.mean[i]!) ** 2;
  const s1 = sqrtPsd(symmetrize(a.covariance));
  const inner = symmetrize(s1.mmul(b.covariance).mmul(s1));
  const evd = new EigenvalueDecomposition(inner, { assumeSymmetric: true });
  const traceSqrt = evd.realEigenvalues.reduce((sum, l) => sum + Math.sqrt(Math.max(l, 0)), 0);
  return Math.max(0, meanTerm + a.covariance.trace() + b.covariance.trace() - 2 * traceSqrt);
}

function rows(features: Float32Array, n: number, d: number): Matrix {
  if (features.length !== n * d) throw new RangeError(`expected ${n}x${d} features, got ${features.length}`);
  const m = new Matrix(n, d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) m.set(i, j, features[i * d + j]!);
  return m;
}

/** Squared Euclidean distances between every row of a [n, d] and of b [m, d]: ‖a‖² + ‖b‖² − 2abᵀ, clamped ≥ 0. */
function squaredDistances(a: Matrix, b: Matrix): Matrix {
  const na = a.rows;
  const nb = b.rows;
  const aa = Array.from({ length: na }, (_, i) => a.getRow(i).reduce((s, v) => s + v * v, 0));
  const bb = Array.from({ length: nb }, (_, j) => b.getRow(j).reduce((s, v) => s + v * v, 0));
  const ab = a.mmul(b.transpose());
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) ab.set(i, j, Math.max(0, aa[i]! + bb[j]! - 2 * ab.get(i, j)));
  }
  return ab;
}

/** Squared distance from each row to its k-th nearest other row (the radius of its k-NN ball). */
function knnRadii(self: Matrix, k: number): number[] {
  const d2 = squaredDistances(self, self);
  const out: number[] = [];
  for (let i = 0; i < self.rows; i++) {
    const row = d2.getRow(i);
    row.splice(i, 1);
    row.sort((x, y) => x - y);
    out.push(row[Math.min(k, row.length) - 1] ?? 0);
  }
  return out;
}

/** Share of `query` rows inside at least one k-NN ball of the `manifold` rows. */
function coverage(query: Matrix, manifold: Matrix, radii: number[]): number {
  if (query.rows === 0) return 0;
  const d2 = squaredDistances(query, manifold);
  let inside = 0;
  for (let i = 0; i < query.rows; i++) {
    for (let j = 0; j < manifold.rows; j++) {
      if (d2.get(i, j) <= radii[j]!) {
        inside++;
        break;
      }
    }
  }
  return inside / query.rows;
}

/**
 * Improved precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the union of balls reaching
 * each point's k-th nearest neighbour in its own set. Precision: share of fake points inside the real manifold
 * (quality); recall: share of real points inside the fake manifold (coverage; mode dropping lowers it).
 * @param real float32 [nReal, d]
 * @param fake float32 [nFake, d]
 */
export function precisionRecall(
  real: Float32Array,
  nReal: number,
  fake: Float32Array,
  nFake: number,
  d: number,
  k = PR_K,
): { precision: number; recall: number } {
  if (nReal <= k || nFake <= k)
    throw new RangeError(`precision/recall needs more than k=${k} points per set`);
  const r = rows(real, nReal, d);
  const f = rows(fake, nFake, d);
  return {
    precision: coverage(f, r, knnRadii(r, k)),
    recall: coverage(r, f, knnRadii(f, k)),
  };
}

/**
 * ROC AUC of scores that should rank real above fake: P(score(real) > score(fake)), ties counting one half
 * (the Mann–Whitney U statistic over nReal·nFake pairs). 1 = perfect separation, 0.5 = chance.
 */
export function rocAuc(realScores: ArrayLike<number>, fakeScores: ArrayLike<number>): number {
  const nr = realScores.length;
  const nf = fakeScores.length;
  if (nr === 0 || nf === 0) throw new RangeError('AUC needs at least one real and one fake score');
  const all: Array<{ v: number; real: boolean }> = [];
  for (let i = 0; i < nr; i++) all.push({ v: realScores[i]!, real: true });
  for (let i = 0; i < nf; i++) all.push({ v: fakeScores[i]!, real: false });
  all.sort((a, b) => a.v - b.v);
  // Sum of the (1-based, tie-averaged) ranks of the real scores.
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]!.v === all[i]!.v) j++;
    const rank = (i + 1 + j) / 2;
    for (let t = i; t < j; t++) if (all[t]!.real) rankSum += rank;
    i = j;
  }
  return (rankSum - (nr * (nr + 1)) / 2) / (nr * nf);
}

export const mean = (xs: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return xs.length === 0 ? 0 : s / xs.length;
};

export interface VerdictInput {
  histogram: ClassHistogram;
  modesCovered: number;
  klToUniform: number;
  classNames?: readonly string[];
  /** Precision/recall of the samples and of real held-out data (the floor), when reference stats exist. */
  precisionRecall?: { precision: number; recall: number } | null;
  floorPrecisionRecall?: { precision: number; recall: number } | null;
  discriminatorAuc?: number | null;
}

export interface Verdict {
  /** 'collapsed' when the class histogram shows it; 'ok' otherwise (warnings may still be listed). */
  status: 'ok' | 'collapsed';
  collapsed: boolean;
  summary: string;
  /** Every rule that fired, in words with its numbers. */
  findings: string[];
  thresholds: {
    modeShare: number;
    minModesCovered: number;
    maxKlToUniform: number;
    headShare: number;
    maxDiscriminatorAuc: number;
    recallDrop: number;
  };
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

/** Read the figures against the thresholds above and say what they mean. */
export function verdict(input: VerdictInput): Verdict {
  const k = input.histogram.counts.length;
  const minModes = Math.ceil(MIN_COVERED_FRACTION * k);
  const head = headClasses(input.histogram);
  const findings: string[] = [];
  const few = input.modesCovered < minModes;
  const skewed = input.klToUniform > MAX_KL;
  if (few) {
    findings.push(
      `only ${input.modesCovered} of ${k} classes hold at least ${pct(MODE_SHARE)} of samples (expected ≥ ${minModes})`,
    );
  }
  if (skewed) {
    findings.push(`KL(histogram ‖ uniform) is ${input.klToUniform.toFixed(3)} nats (limit ${MAX_KL})`);
  }
  const pr = input.precisionRecall;
  const floor = input.floorPrecisionRecall;
  if (
    pr &&
    floor &&
    pr.recall < RECALL_DROP * floor.recall &&
    pr.precision >= RECALL_DROP * floor.precision
  ) {
    findings.push(
      `mode dropping suspected: recall ${pr.recall.toFixed(2)} against ${floor.recall.toFixed(2)} for real data, precision ${pr.precision.toFixed(2)}`,
    );
  }
  const auc = input.discriminatorAuc;
  if (auc !== undefined && auc !== null && auc > MAX_DISCRIMINATOR_AUC) {
    findings.push(
      `the discriminator separates real from generated almost perfectly (AUC ${auc.toFixed(3)} > ${MAX_DISCRIMINATOR_AUC}): the two networks are out of balance`,
    );
  }
  const collapsed = few || skewed;
  const top = [...input.histogram.shares.keys()]
    .sort((a, b) => input.histogram.shares[b]! - input.histogram.shares[a]!)
    .slice(0, head.classes)
    .map((c) => input.classNames?.[c] ?? String(c));
  const summary = collapsed
    ? `mode collapse suspected: ${head.classes} of ${k} classes cover ${pct(head.share)} of samples (${top.join(', ')})`
    : `no mode collapse: ${input.modesCovered} of ${k} classes covered, KL to uniform ${input.klToUniform.toFixed(3)}` +
      (findings.length > 0 ? `; ${findings.join('; ')}` : '');
  return {
    status: collapsed ? 'collapsed' : 'ok',
    collapsed,
    summary,
    findings,
    thresholds: {
      modeShare: MODE_SHARE,
      minModesCovered: minModes,
      maxKlToUniform: MAX_KL,
      headShare: HEAD_SHARE,
      maxDiscriminatorAuc: MAX_DISCRIMINATOR_AUC,
      recallDrop: RECALL_DROP,
    },
  };
}
