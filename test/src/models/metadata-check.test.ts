import { describe, expect, it } from 'vitest';
import type { SessionInfo } from '../../../src/inference/protocol.ts';
import { type Manifest, manifestSchema } from '../../../src/models/manifest.ts';
import { checkDiscriminator, checkGenerator } from '../../../src/models/metadata-check.ts';

const manifest: Manifest = manifestSchema.parse({
  name: 'x',
  title: 'X',
  dataset: 'mnist',
  latentDim: 100,
  image: { width: 28, height: 28, channels: 1 },
  generator: { latentInput: 'z', output: 'img', outputRange: [-1, 1], outputLayout: 'NHWC' },
  discriminator: {
    input: 'img',
    inputRange: [-1, 1],
    inputLayout: 'NHWC',
    output: 'logit',
    outputKind: 'logit',
  },
  numClasses: null,
  provenance: { command: 'test', createdAt: '2026-01-01T00:00:00Z' },
});

const info = (inputs: SessionInfo['inputs'], outputs: SessionInfo['outputs']): SessionInfo => ({
  key: 'x/generator',
  provider: 'cpu',
  skipped: [],
  error: null,
  inputs,
  outputs,
});

describe('checkGenerator', () => {
  const good = info(
    [{ name: 'z', type: 'float32', shape: ['N', 100] }],
    [{ name: 'img', type: 'float32', shape: ['N', 28, 28, 1] }],
  );

  it('accepts a matching generator', () => {
    expect(checkGenerator(manifest, good).problems).toEqual([]);
  });

  it('names the latent mismatch as the issue asks', () => {
    const bad = info([{ name: 'z', type: 'float32', shape: ['N', 64] }], good.outputs);
    expect(checkGenerator(manifest, bad).problems).toEqual([
      "latentDim is 100 but generator input 'z' has 64",
    ]);
  });

  it('finds missing inputs, fixed batch axes, wrong image shapes and extra inputs', () => {
    const bad = info(
      [
        { name: 'noise', type: 'float32', shape: [1, 100] },
        { name: 'extra', type: 'float32', shape: ['N'] },
      ],
      [{ name: 'img', type: 'float32', shape: ['N', 32, 32, 1] }],
    );
    const { problems } = checkGenerator(manifest, bad);
    expect(problems).toContain("generator input 'z' not found (has 'noise', 'extra')");
    expect(problems).toContain(
      "generator input 'noise' is not named in the manifest (give it a role, e.g. constant)",
    );
    expect(problems).toContain("image is 28 but generator output 'img' has 32 (dimension 1)");
  });

  it('requires a dynamic batch axis', () => {
    const fixed = info([{ name: 'z', type: 'float32', shape: [1, 100] }], good.outputs);
    expect(checkGenerator(manifest, fixed).problems).toEqual([
      "generator input 'z' has a fixed batch axis (1); a dynamic one is required",
    ]);
  });

  it('requires a class input for conditional models (in the manifest itself)', () => {
    const parsed = manifestSchema.safeParse({ ...manifest, numClasses: 10 });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe(
      'numClasses is 10 but no input has role class-index or class-onehot',
    );
  });
});

describe('checkDiscriminator', () => {
  it('checks the input image and a [N, 1] output', () => {
    const ok = info(
      [{ name: 'img', type: 'float32', shape: ['N', 28, 28, 1] }],
      [{ name: 'logit', type: 'float32', shape: ['N', 1] }],
    );
    expect(checkDiscriminator(manifest, ok).problems).toEqual([]);
    const bad = info(
      [{ name: 'img', type: 'float32', shape: ['N', 1, 28, 28] }],
      [{ name: 'logit', type: 'float32', shape: ['N', 10] }],
    );
    const { problems } = checkDiscriminator(manifest, bad);
    expect(problems).toContain("image is 28 but discriminator input 'img' has 1 (dimension 1)");
    expect(problems).toContain(
      "discriminator output 'logit' must be one score per image ([N], [N, 1] or [N, 1, 1, 1]), has [N, 10]",
    );
  });
});
