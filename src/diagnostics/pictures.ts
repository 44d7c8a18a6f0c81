/**
 * The diagnostics pictures, PNG via sharp: samples sorted into one row per predicted class (a collapsed
 * generator shows as a few full rows and many empty ones) and a bar chart of the class histogram.
 */
import sharp from 'sharp';
import { tileGrid } from '../imaging/pixels.ts';
import { escapeXml } from '../imaging/svg.ts';
import { MODE_SHARE } from './statistics.ts';

const GAP = 2; // pixels between tiles, before upscaling
const EMPTY = 24; // grey of an empty slot: visibly not a black sample
const LABEL_WIDTH = 150; // px of the class-name column, after upscaling

export interface ClassGridInput {
  /** Per class, uint8 [n, H, W, C] samples the classifier put in it, in seed order. */
  examples: Uint8Array[];
  /** Samples per class in the whole run (the label column shows them). */
  counts: number[];
  classNames: readonly string[];
  width: number;
  height: number;
  channels: number;
  perClass: number;
  scale: number;
}

/** Width and height of the class grid `classGridPng` draws for these inputs, pixels. */
export function classGridSize(
  input: Pick<ClassGridInput, 'width' | 'height' | 'perClass' | 'scale'> & { classes: number },
): { width: number; height: number } {
  return {
    width: LABEL_WIDTH + (input.perClass * (input.width + GAP) + GAP) * input.scale,
    height: (input.classes * (input.height + GAP) + GAP) * input.scale,
  };
}

/**
 * One row per class: its name and count, then up to `perClass` of its samples; empty slots stay grey.
 * @returns PNG, (LABEL_WIDTH + perClass·(W+GAP)·scale) wide
 */
export async function classGridPng(input: ClassGridInput): Promise<Buffer> {
  const { width: w, height: h, channels: ch, perClass, scale } = input;
  const k = input.examples.length;
  const perImage = w * h * ch;
  // k rows of perClass tiles, each row its class's first samples and then empty (grey) slots.
  const tiles = new Uint8Array(k * perClass * perImage).fill(EMPTY);
  for (let c = 0; c < k; c++) {
    const images = input.examples[c]!;
    const n = Math.min(perClass, Math.floor(images.length / perImage));
    tiles.set(images.subarray(0, n * perImage), c * perClass * perImage);
  }
  const inner = tileGrid(tiles, k * perClass, h, w, ch, perClass, GAP, 0);
  const gridW = inner.width + 2 * GAP;
  const gridH = inner.height + 2 * GAP;
  const total = input.counts.reduce((a, b) => a + b, 0);
  const rowH = (h + GAP) * scale;
  const labels = input.counts
    .map((count, c) => {
      const y = GAP * scale + c * rowH + rowH / 2;
      const name = escapeXml(input.classNames[c] ?? String(c));
      const share = total > 0 ? ((count / total) * 100).toFixed(1) : '0.0';
      return `<text x="8" y="${y - 2}" font-size="14" font-weight="bold">${name}</text><text x="8" y="${y + 14}" font-size="12">${count} (${share}%)</text>`;
    })
    .join('');
  const outW = LABEL_WIDTH + gridW * scale;
  const outH = gridH * scale;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${LABEL_WIDTH}" height="${outH}"><rect width="100%" height="100%" fill="#000"/><g font-family="DejaVu Sans, sans-serif" fill="#eee">${labels}</g></svg>`;
  const margin = GAP * scale;
  const grid = await sharp(inner.data, {
    raw: { width: inner.width, height: inner.height, channels: ch as 1 | 3 },
  })
    .resize(inner.width * scale, inner.height * scale, { kernel: 'nearest' })
    // After the resize (sharp extends last): a black border of GAP pixels around the tiles, as between them.
    .extend({ top: margin, bottom: margin, left: margin, right: margin, background: '#000' })
    .toColourspace('srgb')
    .png()
    .toBuffer();
  return sharp({ create: { width: outW, height: outH, channels: 3, background: '#000' } })
    .composite([
      { input: Buffer.from(svg), left: 0, top: 0 },
      { input: grid, left: LABEL_WIDTH, top: 0 },
    ])
    .png()
    .toBuffer();
}

export interface HistogramInput {
  counts: number[];
  classNames: readonly string[];
  title: string;
  subtitle: string;
  collapsed: boolean;
}

/** Width and height of the histogram picture. */
export const HISTOGRAM_SIZE = { width: 720, height: 420 } as const;

/** SVG bar chart of class shares with the uniform share and the "covered" share marked. */
export function histogramSvg(input: HistogramInput): string {
  const { width, height } = HISTOGRAM_SIZE;
  const left = 56;
  const right = 16;
  const top = 64;
  const bottom = 56;
  const k = input.counts.length;
  const total = input.counts.reduce((a, b) => a + b, 0);
  const shares = input.counts.map((c) => (total > 0 ? c / total : 0));
  const uniform = 1 / k;
  const yMax = Math.min(1, Math.max(2 * uniform, ...shares) * 1.1);
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const y = (v: number) => top + plotH * (1 - v / yMax);
  const slot = plotW / k;
  const bars = shares
    .map((s, c) => {
      const x = left + c * slot + slot * 0.15;
      const bw = slot * 0.7;
      const colour = s >= MODE_SHARE ? '#1f77b4' : '#d62728';
      const name = escapeXml(input.classNames[c] ?? String(c));
      const short = name.length > 10 ? `${name.slice(0, 9)}…` : name;
      return (
        `<rect x="${x.toFixed(1)}" y="${y(s).toFixed(1)}" width="${bw.toFixed(1)}" height="${(top + plotH - y(s)).toFixed(1)}" fill="${colour}"/>` +
        `<text x="${(x + bw / 2).toFixed(1)}" y="${(y(s) - 4).toFixed(1)}" font-size="11" text-anchor="middle">${(s * 100).toFixed(1)}%</text>` +
        `<text x="${(x + bw / 2).toFixed(1)}" y="${top + plotH + 16}" font-size="12" text-anchor="middle">${short}</text>`
      );
    })
    .join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((f) => f * yMax)
    .map(
      (v) =>
        `<line x1="${left - 4}" x2="${left}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#333"/>` +
        `<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" font-size="11" text-anchor="end">${(v * 100).toFixed(0)}%</text>`,
    )
    .join('');
  const line = (v: number, colour: string, label: string) =>
    `<line x1="${left}" x2="${left + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${colour}" stroke-dasharray="6 4"/>` +
    `<text x="${left + plotW - 2}" y="${(y(v) - 4).toFixed(1)}" font-size="11" text-anchor="end" fill="${colour}">${label}</text>`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="#fff"/>` +
    `<g font-family="DejaVu Sans, sans-serif" fill="#222">` +
    `<text x="${left}" y="24" font-size="16" font-weight="bold">${escapeXml(input.title)}</text>` +
    `<text x="${left}" y="46" font-size="12" fill="${input.collapsed ? '#d62728' : '#2ca02c'}">${escapeXml(input.subtitle)}</text>` +
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>` +
    `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>` +
    ticks +
    bars +
    line(uniform, '#2ca02c', `uniform ${(uniform * 100).toFixed(0)}%`) +
    line(MODE_SHARE, '#d62728', `covered ≥ ${(MODE_SHARE * 100).toFixed(0)}%`) +
    `<text x="${left + plotW / 2}" y="${height - 12}" font-size="12" text-anchor="middle">predicted class (share of samples)</text>` +
    `</g></svg>`
  );
}

export async function histogramPng(input: HistogramInput): Promise<Buffer> {
  return sharp(Buffer.from(histogramSvg(input)))
    .png()
    .toBuffer();
}
