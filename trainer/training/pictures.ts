/**
 * Pictures a person looks at while a GAN trains: a sample grid and a loss curve, both PNG via sharp.
 */
import sharp from 'sharp';

const GAP = 2; // pixels between tiles
const UPSCALE = 2; // nearest-neighbour, so 28×28 digits stay crisp

/**
 * Tiles images into a grid PNG.
 * @param images float32 [N, h, w, 1] row-major, values in [−1, 1] (mapped to 0..255)
 * @returns PNG bytes, grayscale, (cols·(w+GAP)+GAP)·UPSCALE wide
 */
export async function gridPng(
  images: Float32Array,
  n: number,
  h: number,
  w: number,
  cols: number,
): Promise<Buffer> {
  if (images.length !== n * h * w)
    throw new Error(`gridPng: expected ${n * h * w} values, got ${images.length}`);
  const rows = Math.ceil(n / cols);
  const width = cols * (w + GAP) + GAP;
  const height = rows * (h + GAP) + GAP;
  const raw = Buffer.alloc(width * height, 40);
  for (let i = 0; i < n; i++) {
    const ox = GAP + (i % cols) * (w + GAP);
    const oy = GAP + Math.floor(i / cols) * (h + GAP);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const v = images[i * h * w + y * w + x]!;
        raw[(oy + y) * width + ox + x] = Math.round(Math.min(1, Math.max(-1, v)) * 127.5 + 127.5);
      }
    }
  }
  return sharp(raw, { raw: { width, height, channels: 1 } })
    .resize(width * UPSCALE, height * UPSCALE, { kernel: 'nearest' })
    .toColourspace('b-w') // a 1-channel PNG (sharp writes raw 1-channel input as RGB otherwise)
    .png()
    .toBuffer();
}

export type Series = { name: string; color: string; points: [number, number][] };

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

/** One panel of a line chart as SVG elements, auto-scaled to its series. */
function panel(
  series: Series[],
  x0: number,
  y0: number,
  w: number,
  h: number,
  title: string,
  yRange?: [number, number],
): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return '';
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]).filter(Number.isFinite);
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs, xMin + 1);
  let [yMin, yMax] = yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (yMax - yMin < 1e-6) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  const px = (x: number) => x0 + ((x - xMin) / (xMax - xMin)) * w;
  const py = (y: number) => y0 + h - ((Math.min(yMax, Math.max(yMin, y)) - yMin) / (yMax - yMin)) * h;
  const parts = [
    `<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="white" stroke="#888"/>`,
    `<text x="${x0}" y="${y0 - 8}" font-size="14" font-family="sans-serif">${escapeXml(title)}</text>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = yMin + ((yMax - yMin) * i) / 4;
    parts.push(
      `<line x1="${x0}" x2="${x0 + w}" y1="${py(y)}" y2="${py(y)}" stroke="#eee"/>`,
      `<text x="${x0 - 6}" y="${py(y) + 4}" font-size="11" text-anchor="end" font-family="sans-serif">${y.toFixed(2)}</text>`,
    );
  }
  parts.push(
    `<text x="${x0 + w}" y="${y0 + h + 16}" font-size="11" text-anchor="end" font-family="sans-serif">step ${xMax}</text>`,
  );
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length > 0) {
      const d = pts.map((p) => `${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(' ');
      parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${d}"/>`);
    }
    parts.push(
      `<rect x="${x0 + 10 + i * 110}" y="${y0 + 8}" width="12" height="3" fill="${s.color}"/>`,
      `<text x="${x0 + 26 + i * 110}" y="${y0 + 13}" font-size="11" font-family="sans-serif">${escapeXml(s.name)}</text>`,
    );
  });
  return parts.join('');
}

/** Loss curves (top) and discriminator outputs (bottom) as a PNG, drawn from an SVG string. */
export async function curvePng(losses: Series[], outputs: Series[], title: string): Promise<Buffer> {
  const width = 800;
  const height = 560;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${width / 2}" y="22" font-size="16" text-anchor="middle" font-family="sans-serif">${escapeXml(title)}</text>` +
    panel(losses, 60, 55, 720, 200, 'loss') +
    panel(outputs, 60, 310, 720, 200, 'mean discriminator output (sigmoid)', [0, 1]) +
    '</svg>';
  return sharp(Buffer.from(svg)).png().toBuffer();
}
