/**
 * Reading ONNX signatures without running them: element types, symbolic and unnamed dimensions, metadata_props,
 * the op behind each output, initializers listed as inputs, external data.
 */
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { formatShape, inspectOnnx } from '../../../scripts/import/inspect.ts';
import { GraphBuilder, parseModel } from '../../../scripts/onnx/builder.ts';
import { pytorchDcganDiscriminator, styleganSingleFile } from '../../../scripts/onnx/families.ts';

const { onnx } = onnxProto;

describe('inspectOnnx', () => {
  it('reads names, types and shapes with their symbolic batch axis', () => {
    const sig = inspectOnnx(
      styleganSingleFile({ dtype: 'float16', truncationInput: true, noiseModeInput: true }),
    );
    expect(sig.inputs).toEqual([
      { name: 'z', dtype: 'float16', shape: ['batch', 512] },
      { name: 'truncation_psi', dtype: 'float16', shape: [] },
      { name: 'noise_mode', dtype: 'int64', shape: [] },
    ]);
    expect(sig.outputs).toEqual([{ name: 'img', dtype: 'float16', shape: ['batch', 3, 64, 64] }]);
    expect(sig).toMatchObject({ opset: 17, producer: 'gan-serve 0.1.0', externalData: [], metadata: {} });
  });

  it.each([
    ['N111', 'Sigmoid'],
    ['N', 'Sigmoid'],
  ] as const)('names the op behind a %s output through reshapes and casts: %s', (outputShape, op) => {
    expect(inspectOnnx(pytorchDcganDiscriminator({ outputShape })).outputOps).toEqual({ output: op });
    expect(inspectOnnx(pytorchDcganDiscriminator({ outputShape, dtype: 'float16' })).outputOps).toEqual({
      output: op,
    });
  });

  it('reads metadata_props, leaves initializers listed as inputs out, marks unnamed dynamic dims and external data', () => {
    const g = new GraphBuilder('g');
    g.input('x', 'float32', ['N', 4]);
    const w = g.initializer(new Float32Array(4), [4], 'w');
    g.op('Add', ['x', w], undefined, 'y');
    g.output('y', 'float32', ['N', 4]);
    const model = parseModel(g.serialize());
    model.metadataProps = [
      { key: 'gan-serve', value: '{"latentDim": 4}' },
      { key: 'latent_dim', value: '4' },
    ];
    const graph = model.graph!;
    graph.input!.push({
      name: 'w',
      type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 4 }] } } },
    });
    graph.output![0]!.type!.tensorType!.shape!.dim![0] = {};
    graph.initializer![0]!.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    graph.initializer![0]!.externalData = [{ key: 'location', value: 'weights.bin' }];
    const sig = inspectOnnx(onnx.ModelProto.encode(model).finish(), 'g.onnx');
    expect(sig.inputs.map((i) => i.name)).toEqual(['x']);
    expect(sig.outputs[0]!.shape).toEqual(['?', 4]);
    expect(sig.metadata).toEqual({ 'gan-serve': '{"latentDim": 4}', latent_dim: '4' });
    expect(sig.outputOps).toEqual({ y: 'Add' });
    expect(sig.externalData).toEqual(['weights.bin']);
  });

  it('refuses bytes that are not a model, naming the file', () => {
    expect(() => inspectOnnx(new TextEncoder().encode('not onnx at all'), 'x.onnx')).toThrow(
      /^x\.onnx: not an ONNX model/,
    );
  });

  it('formats shapes', () => {
    expect(formatShape(['batch', 3, 64, 64])).toBe('[batch, 3, 64, 64]');
    expect(formatShape([])).toBe('[]');
    expect(formatShape(null)).toBe('[?]');
  });
});
