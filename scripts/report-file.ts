/**
 * Writing a generated Markdown report (benchmarks, sweep, soak) without losing what people wrote under it: the
 * text after the notes marker of the existing file is kept below the new report.
 */
import { readFile, writeFile } from 'node:fs/promises';

export const NOTES_MARKER =
  '<!-- Generated above this line; notes below it are kept when the report is regenerated. -->';

/** Write `generated`, then the marker, then the notes of the file already at `file` (if it has any). */
export async function writeReportMarkdown(file: string, generated: string): Promise<void> {
  let notes = '\n';
  try {
    const old = await readFile(file, 'utf8');
    const at = old.indexOf(NOTES_MARKER);
    if (at >= 0) notes = old.slice(at + NOTES_MARKER.length);
  } catch {
    // No earlier report: nothing to keep.
  }
  await writeFile(file, `${generated.trimEnd()}\n\n${NOTES_MARKER}${notes}`);
}
