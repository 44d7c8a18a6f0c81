/**
 * IDX file parsing (the format of the original MNIST files: big-endian magic 0x0000 <dtype> <ndim>, ndim uint32
 * sizes, then the data). Only unsigned-byte data (dtype 0x08) is accepted: that is what MNIST uses.
 */

export type IdxArray = { shape: number[]; data: Uint8Array };

const IDX_UBYTE = 0x08;

/** Parses an unsigned-byte IDX buffer; the returned data is a view into `bytes`. */
export function parseIdx(bytes: Uint8Array): IdxArray {
  if (bytes.length < 4) throw new Error(`IDX: expected at least 4 header bytes, got ${bytes.length}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(
      `IDX: expected magic to start with 0x0000, got 0x${view.getUint16(0).toString(16).padStart(4, '0')}`,
    );
  }
  const dtype = bytes[2]!;
  if (dtype !== IDX_UBYTE)
    throw new Error(`IDX: expected unsigned byte data (0x08), got 0x${dtype.toString(16)}`);
  const ndim = bytes[3]!;
  if (ndim < 1) throw new Error('IDX: expected at least one dimension, got 0');
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes)
    throw new Error(`IDX: expected ${headerBytes} header bytes, got ${bytes.length}`);
  const shape: number[] = [];
  for (let i = 0; i < ndim; i++) shape.push(view.getUint32(4 + 4 * i));
  const count = shape.reduce((a, b) => a * b, 1);
  if (bytes.length - headerBytes !== count) {
    throw new Error(
      `IDX: expected ${count} data bytes for shape [${shape.join(', ')}], got ${bytes.length - headerBytes}`,
    );
  }
  return { shape, data: bytes.subarray(headerBytes) };
}
