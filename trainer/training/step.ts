/**
 * One adversarial training step (Goodfellow et al. 2014, Algorithm 1): `dSteps` discriminator updates, then one
 * generator update. The discriminator outputs logits; every loss is sigmoid cross-entropy from logits.
 *
 * - D maximises log D(x) + log(1 − D(G(z))): minimise BCE(D(x), SOFT_ONE) + BCE(D(G(z)), 0).
 * - G, `non-saturating` (default): minimise −log D(G(z)) = BCE(D(G(z)), 1): strong gradients early.
 * - G, `minimax`: minimise log(1 − D(G(z))) = −BCE(D(G(z)), 0): the game's value, which saturates while D wins.
 * - conditional (ACGAN): both add the auxiliary classifier's cross-entropy on the class output.
 * - latent code (InfoGAN): both add `infoWeight` × the cross-entropy of D's code head Q on the fakes' codes (the
 *   lower bound on the mutual information between the code and G(z)); real images carry no code and add nothing,
 *   unless `codeLabels` (semi-supervised InfoGAN, Spurr et al. 2017): then D also adds λ × Q's cross-entropy on the
 *   real images' dataset labels, so code k comes to mean class k while G still takes z alone.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { latentCodeOf } from '../models/latent-code.ts';
import { tf } from '../tfjs/backend.ts';

export const LOSSES = ['non-saturating', 'minimax'] as const;
export type GanLoss = (typeof LOSSES)[number];
const CLASS_EPS = 1e-7; // clip class probabilities before the log

export type StepConfig = {
  loss: GanLoss;
  /** One-sided label smoothing (Salimans et al. 2016): real targets are 1 − labelSmoothing, fake stay 0. */
  labelSmoothing: number;
  dSteps: number;
  latentDim: number;
  numClasses: number | null;
  /** Categories of the InfoGAN code read from z (unconditional models), or null. */
  latentCode?: number | null;
  /** λ of the InfoGAN term (Chen et al. use 1 for a categorical code). */
  infoWeight?: number;
  /** Supervise the code head with real images' labels (needs labels from `realBatch` and K = the class count). */
  codeLabels?: boolean;
};

/** What the step needs from outside: batches of real data and latent/label draws (so runs are seedable). */
export type StepInputs = {
  /** Real images float32 [B, 28, 28, 1] in [−1, 1] (one per D step) and, if conditional or `codeLabels`, labels
   * float32 [B, 1]. */
  realBatch: () => { images: tfTypes.Tensor4D; labels: tfTypes.Tensor2D | null };
  /** z float32 [B, latentDim] and, if conditional, sampled labels float32 [B, 1]. */
  noise: (batch: number) => { z: tfTypes.Tensor2D; labels: tfTypes.Tensor2D | null };
};

export type StepMetrics = {
  dLoss: number;
  gLoss: number;
  /** Mean sigmoid(D(x)) over the real batch of the last D step. */
  dReal: number;
  /** Mean sigmoid(D(G(z))) over the fake batch of the last D step. */
  dFake: number;
  /** Conditional: the auxiliary classifier's accuracy on real images' labels. Latent code: Q's accuracy on the
   * fakes' codes. Null otherwise. */
  classAcc: number | null;
};

export type GanModels = {
  generator: tfTypes.LayersModel;
  discriminator: tfTypes.LayersModel;
  dOptimizer: tfTypes.Optimizer;
  gOptimizer: tfTypes.Optimizer;
};

function bce(logits: tfTypes.Tensor, target: number): tfTypes.Scalar {
  return tf.losses.sigmoidCrossEntropy(tf.fill(logits.shape, target), logits) as tfTypes.Scalar;
}

function classCrossEntropy(
  probs: tfTypes.Tensor,
  labels: tfTypes.Tensor2D,
  numClasses: number,
): tfTypes.Scalar {
  const oneHot = tf.oneHot(tf.cast(tf.reshape(labels, [-1]), 'int32'), numClasses);
  return tf.neg(
    tf.mean(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(probs, CLASS_EPS, 1))), -1)),
  ) as tfTypes.Scalar;
}

/** InfoGAN's term: λ · CE(Q(G(z)), code). */
function infoTerm(probs: tfTypes.Tensor, code: tfTypes.Tensor2D, cfg: StepConfig): tfTypes.Scalar {
  return tf.mul(cfg.infoWeight ?? 1, classCrossEntropy(probs, code, cfg.latentCode!)) as tfTypes.Scalar;
}

function discriminate(
  d: tfTypes.LayersModel,
  x: tfTypes.Tensor,
): { logits: tfTypes.Tensor; probs: tfTypes.Tensor | null } {
  const out = d.apply(x, { training: true }) as tfTypes.Tensor | tfTypes.Tensor[];
  return Array.isArray(out) ? { logits: out[0]!, probs: out[1] ?? null } : { logits: out, probs: null };
}

function generate(
  g: tfTypes.LayersModel,
  z: tfTypes.Tensor2D,
  labels: tfTypes.Tensor2D | null,
): tfTypes.Tensor {
  return g.apply(labels ? [z, labels] : z, { training: true }) as tfTypes.Tensor;
}

/** Runs one training step; leaves no tensors behind beyond the models' and optimizers' variables. */
export function trainStep(models: GanModels, cfg: StepConfig, inputs: StepInputs): StepMetrics {
  const { generator: g, discriminator: d } = models;
  const dVars = d.trainableWeights.map((w) => w.read() as tfTypes.Variable);
  const gVars = g.trainableWeights.map((w) => w.read() as tfTypes.Variable);
  const softOne = 1 - cfg.labelSmoothing;
  let dLoss = 0;
  let dReal = 0;
  let dFake = 0;
  let classAcc: number | null = null;
  let batch = 0;
  for (let k = 0; k < cfg.dSteps; k++) {
    const last = k === cfg.dSteps - 1;
    tf.tidy(() => {
      const real = inputs.realBatch();
      batch = real.images.shape[0];
      const noise = inputs.noise(batch);
      const code = cfg.latentCode ? latentCodeOf(noise.z, cfg.latentCode) : null;
      // G is not updated here; its BN layers still use batch statistics (training mode), as in the DCGAN paper.
      const fake = generate(g, noise.z, noise.labels);
      // Outputs kept out of minimize()'s internal tidy so the metrics can be read after the update.
      const kept: { real?: tfTypes.Tensor; fake?: tfTypes.Tensor; probs?: tfTypes.Tensor } = {};
      const cost = models.dOptimizer.minimize(
        () => {
          const r = discriminate(d, real.images);
          const f = discriminate(d, fake);
          kept.real = tf.keep(r.logits);
          kept.fake = tf.keep(f.logits);
          let loss = tf.add(bce(r.logits, softOne), bce(f.logits, 0));
          if (cfg.numClasses !== null && r.probs && f.probs && real.labels && noise.labels) {
            kept.probs = tf.keep(r.probs);
            loss = tf.add(
              loss,
              tf.add(
                classCrossEntropy(r.probs, real.labels, cfg.numClasses),
                classCrossEntropy(f.probs, noise.labels, cfg.numClasses),
              ),
            );
          } else if (code && f.probs) {
            kept.probs = tf.keep(f.probs);
            loss = tf.add(loss, infoTerm(f.probs, code, cfg));
            if (cfg.codeLabels && r.probs && real.labels)
              loss = tf.add(loss, infoTerm(r.probs, real.labels, cfg));
          }
          return loss as tfTypes.Scalar;
        },
        true,
        dVars,
      );
      if (last) {
        dLoss = cost!.dataSync()[0]!;
        dReal = tf.mean(tf.sigmoid(kept.real!)).dataSync()[0]!;
        dFake = tf.mean(tf.sigmoid(kept.fake!)).dataSync()[0]!;
        const targets = code ?? real.labels;
        if (kept.probs && targets) {
          const pred = tf.argMax(kept.probs, -1);
          const truth = tf.cast(tf.reshape(targets, [-1]), 'int32');
          classAcc = tf.mean(tf.cast(tf.equal(pred, truth), 'float32')).dataSync()[0]!;
        }
      }
      // tf.keep'd tensors escape every tidy: dispose them here.
      tf.dispose([kept.real, kept.fake, kept.probs].filter((t): t is tfTypes.Tensor => t !== undefined));
    });
  }
  const gLoss = tf.tidy(() => {
    const noise = inputs.noise(batch);
    const code = cfg.latentCode ? latentCodeOf(noise.z, cfg.latentCode) : null;
    const cost = models.gOptimizer.minimize(
      () => {
        const fake = generate(g, noise.z, noise.labels);
        const f = discriminate(d, fake);
        let loss = cfg.loss === 'non-saturating' ? bce(f.logits, 1) : tf.neg(bce(f.logits, 0));
        if (cfg.numClasses !== null && f.probs && noise.labels) {
          loss = tf.add(loss, classCrossEntropy(f.probs, noise.labels, cfg.numClasses));
        } else if (code && f.probs) {
          loss = tf.add(loss, infoTerm(f.probs, code, cfg));
        }
        return loss as tfTypes.Scalar;
      },
      true,
      gVars,
    );
    return cost!.dataSync()[0]!;
  });
  return { dLoss, gLoss, dReal, dFake, classAcc };
}
