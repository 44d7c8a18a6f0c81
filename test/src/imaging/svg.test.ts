import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { escapeXml } from '../../../src/imaging/svg.ts';

describe('escapeXml', () => {
  it('turns the five XML specials into entities and leaves the rest', () => {
    expect(escapeXml(`T-shirt/top <a & "b" 'c'> ü`)).toBe(
      'T-shirt/top &lt;a &amp; &quot;b&quot; &#39;c&#39;&gt; ü',
    );
  });

  it('keeps an SVG with such text renderable by sharp', async () => {
    const name = `<"Sneaker" & 'Boot'>`;
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text x="1" y="15" title="${escapeXml(name)}">${escapeXml(name)}</text></svg>`;
    const meta = await sharp(Buffer.from(svg))
      .png()
      .toBuffer()
      .then((png) => sharp(png).metadata());
    expect([meta.width, meta.height]).toEqual([40, 20]);
  });
});
