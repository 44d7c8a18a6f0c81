/**
 * Training speed per architecture on the wasm backend: ms per GAN step (1 D update + 1 G update) at batch 64.
 * Run: `npm run bench:train [-- --steps 10 --batch-size 64 --width 64 --conditional --latent-code 10]`
 * (`--conditional` and `--latent-code` add the ACGAN and InfoGAN variants of each architecture).
 */
import { parseArgs } from 'node:util';
import { loadDataset } from '../../trainer/data/datasets.ts';
import {
  ARCHITECTURES,
  buildDiscriminator,
  buildGenerator,
  DEFAULT_WIDTH,
} from '../../trainer/models/gan.ts';
import { initTf, tf } from '../../trainer/tfjs/backend.ts';
import { GanSampler } from '../../trainer/training/sampler.ts';
import { trainStep } from '../../trainer/training/step.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '10' },
    'batch-size': { type: 'string', default: '64' },
    width: { type: 'string' },
    arch: { type: 'string' },
    conditional: { type: 'boolean', default: false },
    'latent-code': { type: 'string' },
  },
});

await initTf();
const steps = Number(values.steps);
const batchSize = Number(values['batch-size']);
const data = await loadDataset('mnist', 'train');
const archs = values.arch ? [values.arch as (typeof ARCHITECTURES)[number]] : ARCHITECTURES;
console.log(`backend ${tf.getBackend()}, batch ${batchSize}, ${steps} timed steps after 2 warm-up steps`);
type Variant = { label: string; numClasses: number | null; latentCode: number | null };
const variants: Variant[] = [{ label: '', numClasses: null, latentCode: null }];
if (values.conditional) variants.push({ label: ' (conditional)', numClasses: 10, latentCode: null });
const latentCode = values['latent-code'] ? Number(values['latent-code']) : null;
if (latentCode) variants.push({ label: ` (InfoGAN code of ${latentCode})`, numClasses: null, latentCode });
for (const arch of archs) {
  for (const { label, numClasses, latentCode } of variants) {
    const width = values.width ? Number(values.width) : DEFAULT_WIDTH[arch];
    const opts = { arch, latentDim: 100, numClasses, latentCode, width };
    const models = {
      generator: buildGenerator(opts),
      discriminator: buildDiscriminator(opts),
      dOptimizer: tf.train.adam(2e-4, 0.5),
      gOptimizer: tf.train.adam(2e-4, 0.5),
    };
    const sampler = new GanSampler(data, batchSize, 100, numClasses, 1);
    const cfg = {
      loss: 'non-saturating' as const,
      labelSmoothing: 0.1,
      dSteps: 1,
      latentDim: 100,
      numClasses,
      latentCode,
      infoWeight: 1,
    };
    for (let i = 0; i < 2; i++) trainStep(models, cfg, sampler.stepInputs());
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) trainStep(models, cfg, sampler.stepInputs());
    const ms = (performance.now() - t0) / steps;
    const params = models.generator.countParams() + models.discriminator.countParams();
    console.log(
      `${arch}${label} width ${width}: ${ms.toFixed(0)} ms/step, ` +
        `${((ms * sampler.stepsPerEpoch) / 60_000).toFixed(1)} min/epoch (${sampler.stepsPerEpoch} steps), ${params} params`,
    );
    models.generator.dispose();
    models.discriminator.dispose();
  }
}
