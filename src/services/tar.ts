/**
 * A streaming ustar (POSIX.1-1988) writer for regular files: each entry is a 512-byte header, the file's bytes and
 * zero padding to the next 512-byte boundary; two zero blocks end the archive. Enough for `tar x` (GNU tar,
 * bsdtar, Python's tarfile) to read a stream of generated images without holding the archive in memory.
 */

export const TAR_BLOCK = 512;
/** The end of an archive: two zero blocks. */
export const TAR_END: Buffer = Buffer.alloc(2 * TAR_BLOCK);

const NAME_BYTES = 100;
const PREFIX_BYTES = 155;

export interface TarEntry {
  /** Path inside the archive, ASCII, at most 100 bytes (or 255 split at a '/' into prefix and name). */
  name: string;
  /** File size in bytes. */
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** Permission bits (default 0o644). */
  mode?: number;
}

/** A NUL-terminated octal field of `width` bytes: `width − 1` zero-padded digits, then NUL. */
function octal(header: Buffer, offset: number, width: number, value: number, field: string): void {
  const digits = value.toString(8);
  if (!Number.isInteger(value) || value < 0 || digits.length > width - 1) {
    throw new RangeError(`tar ${field} must be a whole number below 8^${width - 1}, got ${value}`);
  }
  header.write(`${digits.padStart(width - 1, '0')}\0`, offset, width, 'ascii');
}

/** Splits a long path at a '/' into ustar's prefix (≤ 155 bytes) and name (≤ 100 bytes). */
function splitName(name: string): { prefix: string; name: string } {
  if (!/^[\x20-\x7e]+$/.test(name)) throw new RangeError(`tar names must be printable ASCII, got '${name}'`);
  if (name.length <= NAME_BYTES) return { prefix: '', name };
  for (let cut = name.lastIndexOf('/'); cut > 0; cut = name.lastIndexOf('/', cut - 1)) {
    if (cut <= PREFIX_BYTES && name.length - cut - 1 <= NAME_BYTES) {
      return { prefix: name.slice(0, cut), name: name.slice(cut + 1) };
    }
  }
  throw new RangeError(`tar name '${name}' does not fit ustar's 155-byte prefix and 100-byte name`);
}

/** The 512-byte ustar header of a regular file. */
export function tarHeader(entry: TarEntry): Buffer {
  const header = Buffer.alloc(TAR_BLOCK);
  writeTarHeader(header, 0, entry);
  return header;
}

/** Writes `entry`'s header into the 512 zero bytes of `out` at `at` (a slice of a larger buffer, without a copy). */
function writeTarHeader(out: Buffer, at: number, entry: TarEntry): void {
  const { prefix, name } = splitName(entry.name);
  out.write(name, at, NAME_BYTES, 'ascii');
  octal(out, at + 100, 8, entry.mode ?? 0o644, 'mode');
  octal(out, at + 108, 8, 0, 'uid');
  octal(out, at + 116, 8, 0, 'gid');
  octal(out, at + 124, 12, entry.size, 'size');
  octal(out, at + 136, 12, entry.mtime, 'mtime');
  out.write('        ', at + 148, 8, 'ascii'); // the checksum is summed with its own field as spaces
  out[at + 156] = 0x30; // typeflag '0': regular file
  out.write('ustar\0', at + 257, 6, 'ascii');
  out.write('00', at + 263, 2, 'ascii');
  if (prefix) out.write(prefix, at + 345, PREFIX_BYTES, 'ascii');
  let sum = 0;
  for (let i = at; i < at + TAR_BLOCK; i++) sum += out[i]!;
  // Six octal digits, NUL, space: the form every tar writes and reads.
  out.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 8, 'ascii');
}

/** Bytes an entry of `size` bytes takes in an archive: header, data, padding. */
export const tarEntryBytes = (size: number) => TAR_BLOCK + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;

/** Entries back to back as one buffer (header, data, padding each), without the end-of-archive blocks. */
export function tarEntries(files: ReadonlyArray<{ name: string; data: Uint8Array }>, mtime: number): Buffer {
  const out = Buffer.alloc(files.reduce((n, f) => n + tarEntryBytes(f.data.length), 0));
  let offset = 0;
  for (const f of files) {
    writeTarHeader(out, offset, { name: f.name, size: f.data.length, mtime });
    offset += TAR_BLOCK;
    out.set(f.data, offset);
    offset += Math.ceil(f.data.length / TAR_BLOCK) * TAR_BLOCK; // Buffer.alloc zeroed the padding
  }
  return out;
}
