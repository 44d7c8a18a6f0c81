/**
 * A small ustar reader for tests: checks each header's magic and checksum and returns the regular files in order.
 */

export interface TarFile {
  name: string;
  data: Buffer;
  mode: number;
  mtime: number;
}

const field = (block: Buffer, offset: number, width: number) =>
  block
    .subarray(offset, offset + width)
    .toString('ascii')
    .replace(/\0.*$/s, '');
const octal = (block: Buffer, offset: number, width: number) =>
  Number.parseInt(field(block, offset, width).trim(), 8);

/** The files of a whole archive; throws on a bad checksum, a missing magic or a missing end of archive. */
export function readTar(archive: Buffer): TarFile[] {
  const files: TarFile[] = [];
  let offset = 0;
  for (;;) {
    if (offset + 1024 > archive.length)
      throw new Error(`archive ends at ${archive.length} without two zero blocks`);
    const block = archive.subarray(offset, offset + 512);
    if (block.every((b) => b === 0)) {
      if (!archive.subarray(offset + 512, offset + 1024).every((b) => b === 0))
        throw new Error('a lone zero block');
      return files;
    }
    if (field(block, 257, 6) !== 'ustar') throw new Error(`no ustar magic at ${offset}`);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
    if (sum !== octal(block, 148, 8)) throw new Error(`bad checksum at ${offset}`);
    if (field(block, 156, 1) !== '0') throw new Error(`not a regular file at ${offset}`);
    const prefix = field(block, 345, 155);
    const name = field(block, 0, 100);
    const size = octal(block, 124, 12);
    const start = offset + 512;
    files.push({
      name: prefix ? `${prefix}/${name}` : name,
      data: archive.subarray(start, start + size),
      mode: octal(block, 100, 8),
      mtime: octal(block, 136, 12),
    });
    offset = start + Math.ceil(size / 512) * 512;
  }
}
