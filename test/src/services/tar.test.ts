/**
 * The ustar writer: headers a small reader and the system's `tar` both accept, every padding case, names too long
 * or not ASCII refused.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TAR_BLOCK, TAR_END, tarEntries, tarEntryBytes, tarHeader } from '../../../src/services/tar.ts';
import { tempDir } from '../../helpers/app.ts';
import { readTar } from '../../helpers/tar.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Sizes on every side of a block boundary, with distinct contents. */
const files = [0, 1, 511, 512, 513, 1500].map((size, k) => ({
  name: `${k}.bin`,
  data: Uint8Array.from({ length: size }, (_, i) => (i * 7 + k) % 256),
}));
const MTIME = 1_700_000_000;

describe('tar writer', () => {
  it('writes 512-byte ustar headers with size, mode, mtime and a checksum that verifies', () => {
    const header = tarHeader({ name: '42.png', size: 1234, mtime: MTIME });
    expect(header.length).toBe(TAR_BLOCK);
    expect(header.subarray(0, 6).toString('ascii')).toBe('42.png');
    expect(header.subarray(124, 136).toString('ascii')).toBe('00000002322\0'); // 1234 in octal
    expect(header.subarray(257, 265).toString('ascii')).toBe('ustar\u000000');
    const archive = Buffer.concat([header, Buffer.alloc(1536), TAR_END]);
    expect(readTar(archive)).toEqual([
      { name: '42.png', data: Buffer.alloc(1234), mode: 0o644, mtime: MTIME },
    ]);
  });

  it('pads every entry to a block and lays them out back to back', () => {
    const body = tarEntries(files, MTIME);
    expect(body.length).toBe(files.reduce((n, f) => n + tarEntryBytes(f.data.length), 0));
    expect(body.length % TAR_BLOCK).toBe(0);
    expect(tarEntryBytes(0)).toBe(512);
    expect(tarEntryBytes(512)).toBe(1024);
    expect(tarEntryBytes(513)).toBe(1536);
    const read = readTar(Buffer.concat([body, TAR_END]));
    expect(read.map((f) => f.name)).toEqual(files.map((f) => f.name));
    read.forEach((f, i) => {
      expect(f.data.equals(Buffer.from(files[i]!.data))).toBe(true);
    });
  });

  it('gives an archive the system tar lists in order and extracts byte for byte', async () => {
    const dir = await tempDir('gan-tar-');
    dirs.push(dir);
    const archive = join(dir, 'a.tar');
    await writeFile(archive, Buffer.concat([tarEntries(files, MTIME), TAR_END]));
    const listed = execFileSync('tar', ['-tf', archive], { encoding: 'utf8' });
    expect(listed.trim().split('\n')).toEqual(files.map((f) => f.name));
    const out = join(dir, 'out');
    await mkdir(out);
    // stderr is captured: tar warns on anything it finds odd (checksums, old timestamps, trailing garbage).
    const extract = spawnSync('tar', ['-xf', archive, '-C', out], { encoding: 'utf8' });
    expect(extract.status).toBe(0);
    expect(extract.stderr).toBe('');
    expect((await readdir(out)).sort()).toEqual(files.map((f) => f.name).sort());
    for (const f of files) expect((await readFile(join(out, f.name))).equals(Buffer.from(f.data))).toBe(true);
    const verbose = execFileSync('tar', ['--numeric-owner', '-tvf', archive], { encoding: 'utf8' });
    expect(verbose.split('\n')[0]).toMatch(/^-rw-r--r-- 0\/0 +0 2023-11-1\d/);
  });

  it('splits a long path into prefix and name, and refuses names ustar cannot hold', () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(90)}.png`;
    const [file] = readTar(Buffer.concat([tarHeader({ name: long, size: 0, mtime: 0 }), TAR_END]));
    expect(file!.name).toBe(long);
    expect(() => tarHeader({ name: 'x'.repeat(101), size: 0, mtime: 0 })).toThrow(/does not fit/);
    expect(() => tarHeader({ name: 'é.png', size: 0, mtime: 0 })).toThrow(/printable ASCII/);
    expect(() => tarHeader({ name: 'a.png', size: 8 ** 11, mtime: 0 })).toThrow(/size/);
    expect(() => tarHeader({ name: 'a.png', size: -1, mtime: 0 })).toThrow(/size/);
  });
});
