/**
 * Types the importer's steps share: what the user overrides, the guesses it reports, the error that stops an import
 * (exit code 2), and the plan of each network's inputs.
 */
import type { InputSpec } from '../../src/models/manifest.ts';
import type { Dim, OnnxSignature, TensorSignature } from './inspect.ts';

export type Layout = 'NCHW' | 'NHWC';
export type Range = [number, number];
export type NetworkRole = 'generator' | 'mapping' | 'discriminator';
export type OutputKind = 'logit' | 'probability';

/** What the user states instead of a guess (each one a CLI flag). */
export interface InferOverrides {
  /** --output-range lo,hi: the generator's output range (and the discriminator's input range). */
  outputRange?: Range;
  /** --layout: the generator output's layout (and the discriminator input's, where its shape allows both). */
  layout?: Layout;
  /** --latent-input: z of the generator, or of the mapping network when there is one. */
  latentInput?: string;
  /** --class-input: the class input of the network that takes z. */
  classInput?: string;
  /** --num-classes: needed for a class-index input when the file's metadata does not say. */
  numClasses?: number;
  /** --truncation-input: a float scalar [] or [1] fed with the request's truncation ψ. */
  truncationInput?: string;
  /** --constant NAME=VALUE: inputs fed a fixed value. */
  constants?: Readonly<Record<string, number>>;
  /** --noise-input NAME[:seed]: inputs fed seeded standard normal noise (seed 0 unless given). */
  noiseInputs?: Readonly<Record<string, number>>;
  /** --discriminator-output-kind */
  discriminatorOutputKind?: OutputKind;
}

/** Something the importer decided without being told: the user should check it. */
export interface Guess {
  network: NetworkRole;
  /** The tensor it is about, if one. */
  tensor: string | null;
  message: string;
}

/** An ONNX file the importer cannot turn into a manifest; the message names the tensor and what was expected. */
export class ImportError extends Error {
  /** The CLI's exit code for it. */
  readonly exitCode = 2;
  override readonly name = 'ImportError';
}

/** An input with the role it was given and why. */
export interface PlannedInput {
  /** For a w-latent input, dimensions the file leaves symbolic are -1 until the mapping network has run. */
  spec: InputSpec;
  signature: TensorSignature;
  /** How the role was decided, e.g. 'float [N, d] named like a latent' or '--constant'. */
  reason: string;
}

export interface NetworkPlan {
  role: NetworkRole;
  /** The file's signature. */
  signature: OnnxSignature;
  inputs: PlannedInput[];
  /** The output the service reads (image, w, or score). */
  output: TensorSignature;
}

/** Facts the file's metadata_props state (a `gan-serve` JSON object, or plain keys such as `latent_dim`). */
export interface MetadataFacts {
  latentDim?: number;
  numClasses?: number;
  outputRange?: Range;
  layout?: Layout;
  outputKind?: OutputKind;
  title?: string;
  description?: string;
  dataset?: string;
  classNames?: string[];
}

/** Every role and shape the signatures decide, before anything runs. */
export interface ModelPlan {
  /** Length of z. */
  latentDim: number;
  numClasses: number | null;
  generator: NetworkPlan;
  mapping: NetworkPlan | null;
  discriminator: NetworkPlan | null;
  facts: MetadataFacts;
  guesses: Guess[];
}

export interface ImageSize {
  width: number;
  height: number;
  channels: 1 | 3;
}

/** Dimensions after the batch axis. */
export const rowDims = (s: TensorSignature): Dim[] => (s.shape ?? []).slice(1);
