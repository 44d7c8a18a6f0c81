/**
 * The categorical latent code of an InfoGAN-style generator (Chen et al. 2016), read from z itself so that the
 * generator stays a function of z ~ N(0, I) alone: the code is the index of the largest of z's first K entries.
 * The argmax of K independent standard normals is uniform over the K categories, so sampling z samples the code.
 * By default no labels are involved: the trainer adds a head Q to the discriminator that must recover the code from
 * G(z) (a mutual-information term in both losses), which makes the generator give each code a distinct, clear kind
 * of image; on MNIST this is what keeps samples from landing between two digits. With `--code-labels`, Q is also
 * trained on real images' labels (semi-supervised), so code k comes to draw class k (trainer/training/step.ts).
 *
 * `latentCodeOf` is the one tensor definition: the layer below calls it inside the generator, the training step calls
 * it for Q's targets, and the exporter writes the same thing as Slice → ArgMax → Cast (trainer/export/layers.ts);
 * src/latent/code.ts holds the same rule on plain arrays (sample grids, /generate's `code`).
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { tf } from '../tfjs/backend.ts';

/** The code of each row of z: float32 [N, 1] holding argmax(z[:, 0:K]) (an integer in [0, K)). */
export function latentCodeOf(z: tfTypes.Tensor, categories: number): tfTypes.Tensor2D {
  return tf.tidy(() => {
    const n = z.shape[0]!;
    const head = tf.slice(z, [0, 0], [n, categories]);
    return tf.reshape(tf.cast(tf.argMax(head, 1), 'float32'), [n, 1]) as tfTypes.Tensor2D;
  });
}

type LatentCodeArgs = { categories: number; name?: string };

/** A weightless layer: z [N, D] → its code float32 [N, 1]. Saved in checkpoints as class `LatentCode`. */
export class LatentCode extends tf.layers.Layer {
  static readonly className = 'LatentCode';
  readonly categories: number;

  constructor(args: LatentCodeArgs) {
    super(args);
    if (!Number.isInteger(args.categories) || args.categories < 2) {
      throw new Error(`LatentCode: expected an integer number of categories ≥ 2, got ${args.categories}`);
    }
    this.categories = args.categories;
  }

  override computeOutputShape(inputShape: tfTypes.Shape | tfTypes.Shape[]): tfTypes.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfTypes.Shape;
    const dim = shape[1];
    if (typeof dim === 'number' && dim < this.categories) {
      throw new Error(
        `LatentCode: z has ${dim} entries, fewer than the code's ${this.categories} categories`,
      );
    }
    return [shape[0] ?? null, 1];
  }

  override call(inputs: tfTypes.Tensor | tfTypes.Tensor[]): tfTypes.Tensor {
    const z = Array.isArray(inputs) ? inputs[0]! : inputs;
    return latentCodeOf(z, this.categories);
  }

  override getConfig(): tfTypes.serialization.ConfigDict {
    return { ...super.getConfig(), categories: this.categories };
  }
}

tf.serialization.registerClass(LatentCode);
