/**
 * Reads NumPy `.npy` files of floats (a StyleGAN `w_avg` saved with `np.save`): little-endian float32 or float64, C
 * order, any shape. Returns float32 values and the shape.
 */
import { readFile } from 'node:fs/promises';

const MAGIC = '\x93NUMPY';

export interface NpyArray {
  data: Float32Array;
  shape: number[];
}

/** Parse `.npy` bytes; throws an Error that says what is wrong. */
export function parseNpy(bytes: Uint8Array): NpyArray {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length < 10 || buf.subarray(0, 6).toString('latin1') !== MAGIC) throw new Error('not a .npy file');
  const major = buf[6]!;
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined)
    throw new Error(`unreadable .npy header: ${header.trim()}`);
  if (fortran === 'True') throw new Error('Fortran-order arrays are not supported; save with C order');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = buf.subarray(start + headerLen);
  const width = descr === '<f4' ? 4 : descr === '<f8' ? 8 : 0;
  if (width === 0) throw new Error(`dtype ${descr} is not supported (float32 '<f4' or float64 '<f8')`);
  if (body.length < count * width)
    throw new Error(`expected ${count} values of ${width} bytes, the file holds ${body.length} bytes`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) data[i] = width === 4 ? body.readFloatLE(i * 4) : body.readDoubleLE(i * 8);
  return { data, shape };
}

/** Write float32 values as a `.npy` file's bytes (version 1.0, C order). */
export function formatNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = `${header}${' '.repeat(pad % 64)}\n`;
  const out = Buffer.alloc(10 + header.length + data.length * 4);
  out.write(MAGIC, 0, 'latin1');
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i]!, 10 + header.length + i * 4);
  return out;
}

export async function readNpy(file: string): Promise<NpyArray> {
  return parseNpy(await readFile(file));
}
