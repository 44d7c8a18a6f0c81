import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { attr, GraphBuilder, parseModel } from '../../scripts/onnx/builder.ts';

describe('GraphBuilder', () => {
  it('builds a model onnxruntime runs with a dynamic batch axis and typed initializers', async () => {
    const g = new GraphBuilder('affine');
    const x = g.input('x', 'float32', ['N', 3]);
    const w = g.initializer(Float32Array.of(1, 2, 3, 4, 5, 6), [3, 2]);
    const b = g.initializer(Float32Array.of(0.5, -0.5), [2]);
    const y = g.op('Add', [g.op('MatMul', [x, w]), b]);
    g.op('LeakyRelu', [y], { alpha: attr.float(0.25) }, 'y');
    g.output('y', 'float32', ['N', 2]);
    const session = await ort.InferenceSession.create(g.serialize());
    for (const n of [1, 4]) {
      const input = Float32Array.from({ length: n * 3 }, (_, i) => (i % 3) - 1);
      const out = await session.run({ x: new ort.Tensor('float32', input, [n, 3]) });
      expect(out.y!.dims).toEqual([n, 2]);
      // [-1, 0, 1] · [[1,2],[3,4],[5,6]] + [0.5, -0.5] = [4.5, 3.5]
      expect(Array.from(out.y!.data as Float32Array).slice(0, 2)).toEqual([4.5, 3.5]);
    }
    await session.release();
  });

  it('stores int32 and int64 initializers and int/ints attributes', async () => {
    const g = new GraphBuilder('gather');
    const idx = g.input('idx', 'int32', ['N']);
    const table = g.initializer(Int32Array.of(10, 20, 30), [3]);
    const gathered = g.op('Gather', [table, idx], { axis: attr.int(0) });
    const shaped = g.op('Reshape', [gathered, g.int64s([-1, 1])]);
    g.op('Transpose', [shaped], { perm: attr.ints([1, 0]) }, 'out');
    g.output('out', 'int32', [1, 'N']);
    const session = await ort.InferenceSession.create(g.serialize());
    const out = await session.run({ idx: new ort.Tensor('int32', Int32Array.of(2, 0, 1), [3]) });
    expect(out.out!.dims).toEqual([1, 3]);
    expect(Array.from(out.out!.data as Int32Array)).toEqual([30, 10, 20]);
    await session.release();
  });

  it('round-trips through parseModel with opset and symbolic dims', () => {
    const g = new GraphBuilder('id', 13);
    g.input('x', 'float32', ['N', 2]);
    g.op('Identity', ['x'], undefined, 'y');
    g.output('y', 'float32', ['N', 2]);
    const model = parseModel(g.serialize());
    expect(Number(model.opsetImport[0]!.version)).toBe(13);
    expect(model.graph!.node!.map((n) => n.opType)).toEqual(['Identity']);
    expect(model.graph!.input![0]!.type!.tensorType!.shape!.dim![0]!.dimParam).toBe('N');
  });

  it('rejects mis-sized initializers, reused names and undeclared outputs', () => {
    const g = new GraphBuilder('bad');
    expect(() => g.initializer(new Float32Array(5), [2, 3])).toThrow('needs 6 values, got 5');
    g.input('x', 'float32', [1]);
    expect(() => g.input('x', 'float32', [1])).toThrow("name 'x' is already used");
    expect(() => g.output('nope', 'float32', [1])).toThrow("output 'nope' is not produced");
    expect(() => attr.int(0.5)).toThrow('must be an integer');
  });
});

describe('GraphBuilder float16', () => {
  it('stores float16 initializers from Uint16Array bits and types float16 inputs/outputs', async () => {
    const g = new GraphBuilder('half');
    const x = g.input('x', 'float16', ['N', 2]);
    // 0x3C00 = 1, 0xC000 = -2, 0x3800 = 0.5 in IEEE binary16.
    const w = g.initializer(Uint16Array.of(0x3c00, 0xc000), [2]);
    const b = g.initializer(Uint16Array.of(0x3800), [1]);
    g.op('Add', [g.op('Mul', [x, w]), b], undefined, 'y');
    g.output('y', 'float16', ['N', 2]);
    const model = parseModel(g.serialize());
    expect(model.graph!.initializer!.map((t) => t.dataType)).toEqual([10, 10]);
    const session = await ort.InferenceSession.create(g.serialize());
    // x = [[1, 1]] → [1·1 + 0.5, 1·-2 + 0.5] = [1.5, -1.5] = [0x3E00, 0xBE00].
    const out = await session.run({ x: new ort.Tensor('float16', Uint16Array.of(0x3c00, 0x3c00), [1, 2]) });
    expect(out.y!.type).toBe('float16');
    expect(Array.from(out.y!.data as Uint16Array)).toEqual([0x3e00, 0xbe00]);
    await session.release();
  });
});
