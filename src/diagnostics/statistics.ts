/**
 * Pure mode-collapse statistics over classifier outputs: class histogram, modes covered, KL to uniform, confidence,
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

/** Classifier confidence below which a sample counts as unclear in {@link unclearSamples}. */
export const UNCLEAR_CONFIDENCE = 0.9;

export interface UnclearSamples {
  threshold: number;
  /** Share of samples whose top probability is below `threshold`. */
  share: number;
  /** Mean of top + second probability over those samples: near 1 when they are blends of two classes. */
  meanTopTwo: number;
  /** Their most frequent (top, second) class pairs, unordered, commonest first (at most `maxPairs`). */
  pairs: Array<{ classes: [number, number]; share: number }>;
}

/**
 * What the classifier's unsure samples are: blends of two classes (top two probabilities sum near 1) or no class
 * at all, and which pairs of classes they mix. Shares are of all n samples.
 * @param probs float32 [n, k], rows summing to 1
 */
export function unclearSamples(
  probs: Float32Array,
  n: number,
  k: number,
  threshold = UNCLEAR_CONFIDENCE,
  maxPairs = 5,
): UnclearSamples {
  if (probs.length !== n * k) throw new RangeError(`expected ${n}x${k} probabilities, got ${probs.length}`);
  let count = 0;
  let topTwo = 0;
  const pairs = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    let a = 0;
    let b = -1;
    for (let c = 1; c < k; c++) {
      const p = probs[i * k + c]!;
      if (p > probs[i * k + a]!) {
        b = a;
        a = c;
      } else if (b < 0 || p > probs[i * k + b]!) b = c;
    }
    if (probs[i * k + a]! >= threshold) continue;
    count++;
    topTwo += probs[i * k + a]! + (b >= 0 ? probs[i * k + b]! : 0);
    const key = Math.min(a, b) * k + Math.max(a, b);
    pairs.set(key, (pairs.get(key) ?? 0) + 1);
  }
  return {
    threshold,
    share: n === 0 ? 0 : count / n,
    meanTopTwo: count === 0 ? 0 : topTwo / count,
    pairs: [...pairs]
      .sort((x, y) => y[1] - x[1] || x[0] - y[0])
      .slice(0, maxPairs)
      .map(([key, c]) => ({ classes: [Math.floor(key / k), key % k] as [number, number], share: c / n })),
  };
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

/**
 * How far a latent code (InfoGAN) separates the classes: the share of samples whose predicted class is the commonest
 * one of their code (1 when every code draws a single class; 1/classes for codes that ignore the class).
 * @param codes each sample's code in [0, categories); predicted each sample's class in [0, classes)
 */
export function codePurity(
  codes: ArrayLike<number>,
  predicted: ArrayLike<number>,
  classes: number,
  categories: number,
): number {
  const n = codes.length;
  if (predicted.length !== n) throw new RangeError(`expected ${n} predictions, got ${predicted.length}`);
  if (n === 0) return 0;
  const table = Array.from({ length: categories }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < n; i++) table[codes[i]!]![predicted[i]!]!++;
  return table.reduce((sum, row) => sum + Math.max(...row), 0) / n;
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
  const mean = new Array<number>(d).fill(0);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j]! += features[i * d + j]!;
  for (let j = 0; j < d; j++) mean[j] = mean[j]! / n;
  // Centred rows in float64, then Xᵀ·X over the upper triangle (flat loops: ml-matrix's element access is slow).
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) x[i * d + j] = features[i * d + j]! - mean[j]!;
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    const row = i * d;
    for (let a = 0; a < d; a++) {
      const va = x[row + a]!;
      if (va === 0) continue;
      for (let b = a; b < d; b++) cov[a * d + b]! += va * x[row + b]!;
    }
  }
  const covariance = new Matrix(d, d);
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b]! / (n - 1);
      covariance.set(a, b, v);
      covariance.set(b, a, v);
    }
  }
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

/** Squared norm of each row of a float32 [n, d] array. */
function rowNorms(x: Float32Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j]! * x[i * d + j]!;
    out[i] = s;
  }
  return out;
}

/** Squared distance between row i of a and row j of b: ‖a‖² + ‖b‖² − 2a·b, clamped ≥ 0. */
function distance2(
  a: Float32Array,
  i: number,
  na: Float64Array,
  b: Float32Array,
  j: number,
  nb: Float64Array,
  d: number,
): number {
  let dot = 0;
  const ai = i * d;
  const bj = j * d;
  for (let t = 0; t < d; t++) dot += a[ai + t]! * b[bj + t]!;
  return Math.max(0, na[i]! + nb[j]! - 2 * dot);
}

/** Squared distance from each row to its k-th nearest other row (the radius of its k-NN ball). */
function knnRadii(
  x: Float32Array,
  n: number,
  d: number,
  k: number,
  norms: Float64Array,
  out: Float64Array,
  from: number,
  to: number,
): void {
  const best = new Float64Array(k); // the k smallest distances so far, ascending
  for (let i = from; i < to; i++) {
    best.fill(Number.POSITIVE_INFINITY);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const v = distance2(x, i, norms, x, j, norms, d);
      if (v >= best[k - 1]!) continue;
      let at = k - 1;
      while (at > 0 && best[at - 1]! > v) {
        best[at] = best[at - 1]!;
        at--;
      }
      best[at] = v;
    }
    out[i] = best[k - 1]!;
  }
}

/** How many `query` rows in [from, to) lie inside at least one k-NN ball of the `manifold` rows. */
function covered(
  query: Float32Array,
  qn: Float64Array,
  manifold: Float32Array,
  mn: Float64Array,
  nm: number,
  radii: Float64Array,
  d: number,
  from: number,
  to: number,
): number {
  let inside = 0;
  for (let i = from; i < to; i++) {
    for (let j = 0; j < nm; j++) {
      if (distance2(query, i, qn, manifold, j, mn, d) <= radii[j]!) {
        inside++;
        break;
      }
    }
  }
  return inside;
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
  const steps = precisionRecallSteps(real, nReal, fake, nFake, d, k, Number.POSITIVE_INFINITY);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/**
 * precisionRecall in slices of `rowsPerStep` rows, awaiting `pause` between slices so a server's event loop
 * serves other requests meanwhile (the whole computation is O(n²·d)).
 */
export async function precisionRecallYielding(
  real: Float32Array,
  nReal: number,
  fake: Float32Array,
  nFake: number,
  d: number,
  pause: () => Promise<void>,
  rowsPerStep = 64,
  k = PR_K,
): Promise<{ precision: number; recall: number }> {
  const steps = precisionRecallSteps(real, nReal, fake, nFake, d, k, rowsPerStep);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await pause();
  }
}

function* precisionRecallSteps(
  real: Float32Array,
  nReal: number,
  fake: Float32Array,
  nFake: number,
  d: number,
  k: number,
  rowsPerStep: number,
): Generator<void, { precision: number; recall: number }> {
  if (nReal <= k || nFake <= k)
    throw new RangeError(`precision/recall needs more than k=${k} points per set`);
  if (real.length !== nReal * d || fake.length !== nFake * d) {
    throw new RangeError(
      `expected ${nReal}x${d} real and ${nFake}x${d} fake features, got ${real.length} and ${fake.length}`,
    );
  }
  const rn = rowNorms(real, nReal, d);
  const fn = rowNorms(fake, nFake, d);
  const realRadii = new Float64Array(nReal);
  const fakeRadii = new Float64Array(nFake);
  const slices = function* (n: number) {
    for (let from = 0; from < n; from += rowsPerStep) yield [from, Math.min(n, from + rowsPerStep)] as const;
  };
  for (const [from, to] of slices(nReal)) {
    knnRadii(real, nReal, d, k, rn, realRadii, from, to);
    yield;
  }
  for (const [from, to] of slices(nFake)) {
    knnRadii(fake, nFake, d, k, fn, fakeRadii, from, to);
    yield;
  }
  let precise = 0;
  for (const [from, to] of slices(nFake)) {
    precise += covered(fake, fn, real, rn, nReal, realRadii, d, from, to);
    yield;
  }
  let recalled = 0;
  for (const [from, to] of slices(nReal)) {
    recalled += covered(real, rn, fake, fn, nFake, fakeRadii, d, from, to);
    yield;
  }
  return { precision: precise / nFake, recall: recalled / nReal };
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

export interface CollapseVerdictInput {
  histogram: ClassHistogram;
  modesCovered: number;
  klToUniform: number;
  classNames?: readonly string[];
  /**
   * The classifier's view of real held-out data (from the reference statistics): collapse is judged against it,
   * since an imperfect classifier skews even real data's histogram. Without it, against a uniform histogram.
   */
  floor?: { modesCovered: number; klToUniform: number; precision: number; recall: number } | null;
  /** Precision/recall of the samples against the reference, when reference statistics exist. */
  precisionRecall?: { precision: number; recall: number } | null;
  discriminatorAuc?: number | null;
}

export interface CollapseVerdict {
  /** 'collapsed' when the class histogram shows it; 'ok' otherwise (other findings may still be listed). */
  status: 'ok' | 'collapsed';
  collapsed: boolean;
  summary: string;
  /** Every rule that fired, in words with its numbers. */
  findings: string[];
  thresholds: {
    modeShare: number;
    /** Fewer covered classes than this is collapse: MIN_COVERED_FRACTION of the real data's covered classes. */
    minModesCovered: number;
    /** KL to uniform above this is collapse: the real data's KL plus MAX_KL. */
    maxKlToUniform: number;
    /** What the two limits above were measured against. */
    baseline: 'real held-out data' | 'uniform';
    headShare: number;
    maxDiscriminatorAuc: number;
    recallDrop: number;
  };
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

/** Read the figures against the thresholds above (relative to real data when its figures are known). */
export function collapseVerdict(input: CollapseVerdictInput): CollapseVerdict {
  const k = input.histogram.counts.length;
  const floor = input.floor ?? null;
  const minModes = Math.ceil(MIN_COVERED_FRACTION * (floor?.modesCovered ?? k));
  const maxKl = (floor?.klToUniform ?? 0) + MAX_KL;
  const head = headClasses(input.histogram);
  const findings: string[] = [];
  const few = input.modesCovered < minModes;
  const skewed = input.klToUniform > maxKl;
  const against = floor ? ` (real data: ${floor.modesCovered})` : '';
  if (few) {
    findings.push(
      `only ${input.modesCovered} of ${k} classes hold at least ${pct(MODE_SHARE)} of samples${against}, expected ≥ ${minModes}`,
    );
  }
  if (skewed) {
    findings.push(
      `KL(histogram ‖ uniform) is ${input.klToUniform.toFixed(3)} nats, limit ${maxKl.toFixed(3)}` +
        (floor ? ` (real data ${floor.klToUniform.toFixed(3)} + ${MAX_KL})` : ''),
    );
  }
  const pr = input.precisionRecall;
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
      maxKlToUniform: maxKl,
      baseline: floor ? 'real held-out data' : 'uniform',
      headShare: HEAD_SHARE,
      maxDiscriminatorAuc: MAX_DISCRIMINATOR_AUC,
      recallDrop: RECALL_DROP,
    },
  };
}
