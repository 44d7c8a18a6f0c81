import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NOTES_MARKER, writeReportMarkdown } from '../../scripts/report-file.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'report-file-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('writeReportMarkdown', () => {
  it('writes a new report with the marker under it', async () => {
    const file = join(dir, 'bench.md');
    await writeReportMarkdown(file, '# Report\n\n| a | 1 |\n');
    expect(await readFile(file, 'utf8')).toBe(`# Report\n\n| a | 1 |\n\n${NOTES_MARKER}\n`);
  });

  it('replaces the report and keeps the notes written under the marker, byte for byte', async () => {
    const file = join(dir, 'bench.md');
    const notes = '\n\n## Where the time goes\n\nA profile said *this*.\n';
    await writeFile(file, `# Old report\n\n| a | 1 |\n\n${NOTES_MARKER}${notes}`);
    await writeReportMarkdown(file, '# New report\n\n| a | 2 |');
    expect(await readFile(file, 'utf8')).toBe(`# New report\n\n| a | 2 |\n\n${NOTES_MARKER}${notes}`);
  });

  it('overwrites a file without a marker entirely (nothing there was marked as notes)', async () => {
    const file = join(dir, 'bench.md');
    await writeFile(file, '# Old report\n');
    await writeReportMarkdown(file, '# New report');
    expect(await readFile(file, 'utf8')).toBe(`# New report\n\n${NOTES_MARKER}\n`);
  });
});
