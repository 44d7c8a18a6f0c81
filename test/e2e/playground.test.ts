/**
 * The playground in a real browser: Debian's Chromium driven by playwright-core against the real service process
 * on fixture models. Chromium comes from the OS package (`apt-get install chromium`; .ci/run installs it), never
 * from playwright's downloader. Screenshots go to test-output/ (git-ignored).
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeStyleganSingleFile } from '../../scripts/onnx/family-models.ts';
import { ROOT, type ServiceProcess, startService, waitFor } from '../../scripts/service-process.ts';
import { writeFixtureClassifier, writeFixtureModel } from '../fixtures/models.ts';
import { tempDir } from '../helpers/app.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const OUTPUT = join(ROOT, 'test-output');
/** Browser waits: generous, the reference machine has 2 cores. */
const WAIT = { timeout: 45_000 };

let dir: string;
let svc: ServiceProcess;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`,
    );
  }
  dir = await tempDir('gan-e2e-');
  await writeFixtureModel(dir, {});
  await writeFixtureModel(dir, { conditional: true });
  await writeFixtureClassifier(dir);
  await writeStyleganSingleFile(dir, { name: 'generator-only', resolution: 32 });
  svc = await startService({
    GAN_MODELS_DIR: dir,
    GAN_DEFAULT_MODEL: 'tiny',
    GAN_EXECUTION_PROVIDERS: 'cpu',
    GAN_INTRA_OP_THREADS: '1',
    GAN_LOG_LEVEL: 'warn',
  });
  // Start-up compiles the TypeScript sources and loads onnxruntime: slow on a loaded 2-core machine.
  await waitFor(svc, async () => (await fetch(`${svc.url}/readyz`)).status === 200, '/readyz 200', 150_000);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on('pageerror', (err) => pageErrors.push(err.message));
  page.on('console', (msg) => {
    // Resource errors (a 404 from optional diagnostics routes) are the page's business, not a bug.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource'))
      pageErrors.push(msg.text());
  });
  await mkdir(OUTPUT, { recursive: true });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  if (svc) {
    svc.child.kill('SIGTERM');
    await svc.exited;
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Wait until every image of the sample grid has decoded; returns their seeds and natural sizes. */
async function gridImages() {
  await page.waitForFunction(() => {
    const imgs = Array.from(document.querySelectorAll<HTMLImageElement>('#sample-grid img'));
    return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);
  }, WAIT);
  return page.$$eval('#sample-grid button', (buttons) =>
    buttons.map((b) => {
      const img = b.querySelector('img')!;
      return {
        seed: Number(b.dataset.seed),
        width: img.naturalWidth,
        height: img.naturalHeight,
        alt: img.alt,
      };
    }),
  );
}

/** The decoded pixels of one grid image (red channel), read back through a canvas. */
function gridPixels(index: number) {
  return page.$$eval(
    '#sample-grid img',
    (imgs, i) => {
      const img = imgs[i] as HTMLImageElement;
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const g = c.getContext('2d')!;
      g.drawImage(img, 0, 0);
      const { data } = g.getImageData(0, 0, c.width, c.height);
      return Array.from(data.filter((_, k) => k % 4 === 0));
    },
    index,
  );
}

async function verdictAfter(action: () => Promise<void>, source: RegExp) {
  await page.evaluate(() => {
    document.getElementById('verdict')!.hidden = true;
  });
  await action();
  await page.waitForFunction(() => !document.getElementById('verdict')!.hidden, WAIT);
  const v = await page.evaluate(() => ({
    p: Number(document.getElementById('verdict')!.dataset.probability),
    text: document.getElementById('verdict-probability')!.textContent,
    source: document.getElementById('verdict-source')!.textContent,
    preview: (document.getElementById('verdict-image') as HTMLImageElement).naturalWidth,
  }));
  expect(v.source).toMatch(source);
  expect(v.p).toBeGreaterThanOrEqual(0);
  expect(v.p).toBeLessThanOrEqual(1);
  expect(v.text).toBe(`${(v.p * 100).toFixed(1)}%`);
  return v;
}

describe('playground in Chromium', () => {
  it('loads /, lists the models and fills a sample grid of decoded images', async () => {
    const res = await page.goto(`${svc.url}/`);
    expect(res?.status()).toBe(200);
    await page.waitForFunction(() => !(document.getElementById('model') as HTMLSelectElement).disabled, WAIT);
    const options = await page.$$eval('#model option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(options.sort()).toEqual(['generator-only', 'tiny', 'tiny-conditional']);
    expect(await page.inputValue('#model')).toBe('tiny');
    const images = await gridImages();
    expect(images).toHaveLength(16);
    expect(images.map((i) => i.seed)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    for (const i of images) expect([i.width, i.height]).toEqual([28, 28]);
    expect(images[3]!.alt).toBe('Sample, seed 3');
    // Unconditional model: no class picker.
    expect(await page.isVisible('#sample-label')).toBe(false);
  });

  it('asks for nothing it cannot load on first paint (its icon included)', async () => {
    const failed: string[] = [];
    // Requests of the page being left (its own walk, still running) are aborted by the navigation: not failures.
    page.on('requestfailed', (r) => {
      if (r.failure()?.errorText !== 'net::ERR_ABORTED') failed.push(r.url());
    });
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().includes('/diagnostics')) failed.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`${svc.url}/`);
    await gridImages();
    // Every panel shows something at first paint: the samples, and a walk between the form's seeds.
    await page.waitForFunction(() => !document.getElementById('walk-result')!.hidden, WAIT);
    expect(failed).toEqual([]);
    const icon = await fetch(`${svc.url}/favicon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
  });

  it('labels every control for assistive technology', async () => {
    const unlabelled = await page.evaluate(() => {
      const out: string[] = [];
      for (const el of Array.from(
        document.querySelectorAll<HTMLElement>('input, select, textarea, button, canvas, a'),
      )) {
        const named =
          (el as HTMLInputElement).labels?.length ||
          el.getAttribute('aria-label') ||
          el.textContent?.trim() ||
          el.querySelector('img[alt]:not([alt=""])');
        if (!named) out.push(el.outerHTML.slice(0, 80));
      }
      for (const img of Array.from(document.querySelectorAll('img'))) {
        if (!img.hasAttribute('alt')) out.push(img.outerHTML.slice(0, 80));
      }
      return out;
    });
    expect(unlabelled).toEqual([]);
  });

  it('changing the seed changes the pixels; the same seed gives the same ones', async () => {
    const before = await gridPixels(0);
    await page.fill('#sample-seed', '1234');
    await page.fill('#sample-count', '8');
    await page.click('#sample-form button[type="submit"]');
    await page.waitForSelector('#sample-grid button[data-seed="1234"]', WAIT);
    const images = await gridImages();
    expect(images.map((i) => i.seed)).toEqual([1234, 1235, 1236, 1237, 1238, 1239, 1240, 1241]);
    const after = await gridPixels(0);
    expect(after).toHaveLength(28 * 28);
    expect(after).not.toEqual(before);
    expect(new Set(after).size).toBeGreaterThan(10);
    // Back to seed 0: the first image is what it was.
    await page.fill('#sample-seed', '0');
    await page.click('#sample-form button[type="submit"]');
    await page.waitForSelector('#sample-grid button[data-seed="0"]', WAIT);
    await gridImages();
    expect(await gridPixels(0)).toEqual(before);
  });

  it('choosing an image shows its seed and offers its PNG; "new seeds" draws fresh ones', async () => {
    await page.click('#sample-grid button[data-seed="5"]');
    await page.waitForFunction(() => {
      const img = document.getElementById('selection-image') as HTMLImageElement;
      return !document.getElementById('selection')!.hidden && img.complete && img.naturalWidth > 0;
    }, WAIT);
    expect(await page.textContent('#selection-title')).toBe('Seed 5');
    expect(await page.getAttribute('#sample-grid button[data-seed="5"]', 'aria-pressed')).toBe('true');
    const link = await page.$eval('#selection-download', (a) => ({
      href: (a as HTMLAnchorElement).href,
      download: (a as HTMLAnchorElement).download,
    }));
    expect(link.href).toMatch(/^blob:/);
    expect(link.download).toBe('tiny-seed-5.png');
    expect(await page.$eval('#selection-image', (i) => (i as HTMLImageElement).naturalWidth)).toBe(224);

    await page.click('#new-seeds');
    await page.waitForFunction(() => {
      const seed = (document.getElementById('sample-seed') as HTMLInputElement).value;
      return (
        seed !== '0' && (document.querySelector('#sample-grid button') as HTMLElement).dataset.seed === seed
      );
    }, WAIT);
    const seed = Number(await page.inputValue('#sample-seed'));
    expect((await gridImages()).map((i) => i.seed)).toEqual(
      Array.from({ length: 8 }, (_, i) => (seed + i) % 2 ** 32),
    );
  });

  it('"keep the most real of ×4" shows the candidates /generate keeps, and turns off again', async () => {
    await page.fill('#sample-seed', '0');
    await page.fill('#sample-count', '8');
    await page.selectOption('#sample-rejection', 'top-k:4');
    await page.click('#sample-form button[type="submit"]');
    await page.waitForSelector('#sample-grid button[title^="Candidate"]', WAIT);
    const shown = (await gridImages()).map((i) => i.seed);
    const res = await fetch(`${svc.url}/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'tiny',
        seed: 0,
        count: 8,
        rejection: { method: 'top-k', oversample: 4 },
      }),
    });
    expect(res.headers.get('x-oversample')).toBe('4');
    expect(shown).toEqual(res.headers.get('x-seeds')!.split(',').map(Number));
    expect(shown).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const title = await page.getAttribute('#sample-grid button', 'title');
    expect(title).toMatch(/^Candidate [0-3] of seed 0, D [01]\.\d\d$/);
    await page.click('#sample-grid button');
    await page.waitForFunction(() => !document.getElementById('selection')!.hidden, WAIT);
    expect(await page.textContent('#selection-detail')).toMatch(
      /Kept as candidate [0-3] of seed 0 \(D [01]\.\d{3}, best scored\)/,
    );
    await page.selectOption('#sample-rejection', '');
    await page.click('#sample-form button[type="submit"]');
    await page.waitForSelector('#sample-grid button[data-seed="7"]', WAIT);
    expect((await gridImages()).map((i) => i.seed)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('runs a latent walk: a strip of every step and an animation with one frame per step', async () => {
    await page.fill('#walk-from', '3');
    await page.fill('#walk-to', '4');
    await page.fill('#walk-steps', '6');
    await page.check('input[name="method"][value="lerp"]');
    // Keep a copy of the animation the page receives (the browser's own copy may be evicted once it decodes it).
    let webp: Buffer | undefined;
    let webpRequest: unknown;
    await page.route('**/interpolate', async (route) => {
      const response = await route.fetch();
      const body = await response.body();
      if (response.headers()['content-type'] === 'image/webp') {
        webp = body;
        webpRequest = route.request().postDataJSON();
      }
      await route.fulfill({ response, body });
    });
    await page.click('#walk-form button[type="submit"]');
    // The panel already shows the walk it made on load: wait for this one.
    await page.waitForFunction(
      () =>
        !document.getElementById('walk-result')!.hidden &&
        (document.getElementById('walk-strip') as HTMLImageElement).alt.startsWith('Latent walk: 6 images'),
      WAIT,
    );
    const walk = await page.evaluate(() => {
      const strip = document.getElementById('walk-strip') as HTMLImageElement;
      const anim = document.getElementById('walk-animation') as HTMLImageElement;
      return {
        strip: [strip.naturalWidth, strip.naturalHeight],
        anim: [anim.naturalWidth, anim.naturalHeight],
        alt: strip.alt,
      };
    });
    // 6 tiles of 28 px with 2 px gaps, ×3; the animation's frames are 28 px ×6.
    expect(walk.strip).toEqual([(6 * 28 + 5 * 2) * 3, 28 * 3]);
    expect(walk.anim).toEqual([168, 168]);
    expect(walk.alt).toBe('Latent walk: 6 images on a lerp path from seed 3 to seed 4');
    // The animation the page shows: one 168 px frame per step.
    await page.unroute('**/interpolate');
    const m = await sharp(webp!, { pages: -1 }).metadata();
    expect([m.format, m.pages, m.width, m.pageHeight]).toEqual(['webp', 6, 168, 168]);
    expect(webpRequest).toMatchObject({
      model: 'tiny',
      from: { seed: 3 },
      to: { seed: 4 },
      steps: 6,
      method: 'lerp',
      format: 'webp',
    });
  });

  it('scores a drawing, an uploaded digit, a generated sample and a real test digit', async () => {
    const box = (await page.locator('#draw-canvas').boundingBox())!;
    // A "7": a bar across the top and a stroke down to the bottom left.
    const at = (fx: number, fy: number) => [box.x + fx * box.width, box.y + fy * box.height] as const;
    await page.mouse.move(...at(0.3, 0.25));
    await page.mouse.down();
    await page.mouse.move(...at(0.7, 0.25), { steps: 8 });
    await page.mouse.move(...at(0.4, 0.8), { steps: 12 });
    await page.mouse.up();
    const drawn = await verdictAfter(() => page.click('#draw-score'), /^Your drawing/);
    expect(drawn.preview).toBe(28);

    await verdictAfter(
      () => page.setInputFiles('#upload', join(ROOT, 'public/real/mnist-7.png')),
      /^Your file mnist-7\.png/,
    );
    await verdictAfter(() => page.click('#score-generated'), /^Generated sample, seed \d+/);
    const real = await verdictAfter(() => page.click('#score-real'), /^Real MNIST test image #\d+, “0”/);
    expect(real.preview).toBe(28);
  });

  it('shows diagnostics once scrolled to, when the service offers them; hides the panel when it does not', async () => {
    const offered = (await fetch(`${svc.url}/v1/models/tiny/diagnostics/histogram.png`)).status === 200;
    expect(await page.isVisible('#diagnostics')).toBe(true);
    await page.locator('#diagnostics').scrollIntoViewIfNeeded();
    if (offered) {
      await page.waitForFunction(() => {
        const imgs = Array.from(document.querySelectorAll<HTMLImageElement>('#diagnostics img'));
        return imgs.every((i) => i.complete && i.naturalWidth > 0);
      }, WAIT);
      expect(await page.textContent('#diag-status')).toBe('');
      // Dialling ψ down redraws both pictures from the truncated samples.
      const before = await page.getAttribute('#diag-histogram', 'src');
      const requests = Promise.all(
        ['histogram.png', 'grid.png'].map((p) =>
          page.waitForResponse((r) => r.url().includes(`/diagnostics/${p}?truncation=0.5`) && r.ok(), WAIT),
        ),
      );
      await page.$eval('#diag-truncation', (el: HTMLInputElement) => {
        el.value = '0.5';
        el.dispatchEvent(new Event('input'));
        el.dispatchEvent(new Event('change'));
      });
      await requests;
      expect(await page.textContent('#diag-truncation-value')).toBe('0.5');
      await page.waitForFunction(
        (old) => {
          const img = document.getElementById('diag-histogram') as HTMLImageElement;
          return img.src !== old && img.complete && img.naturalWidth > 0;
        },
        before,
        WAIT,
      );
    } else {
      await page.waitForFunction(() => document.getElementById('diagnostics')!.hidden, WAIT);
    }
  });

  it('saves a screenshot of the page in use', async () => {
    await page.click('#sample-grid button:nth-child(2)');
    await page.waitForFunction(() => !document.getElementById('selection')!.hidden, WAIT);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(OUTPUT, 'playground.png'), fullPage: true });
  });

  it('switches to a conditional model: class pickers appear, the grid cycles through the classes, a diagnostics 404 hides the panel', async () => {
    // This time the service answers the diagnostics routes with 404 (as one without them would).
    // Any query (the panel adds ?truncation=ψ when the slider is not at 1).
    const diagnosticsPictures = /\/diagnostics\/[a-z]+\.png(\?|$)/;
    await page.route(diagnosticsPictures, (route) =>
      route.fulfill({
        status: 404,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'GAN_ERR_NOT_FOUND', message: 'no route' } }),
      }),
    );
    await page.selectOption('#model', 'tiny-conditional');
    await page.waitForFunction(
      () =>
        document.getElementById('model-info')!.textContent!.includes('10 classes') &&
        document.querySelectorAll('#sample-grid img').length > 0,
      WAIT,
    );
    const images = await gridImages();
    const first = images[0]!.seed;
    expect(images[2]!.alt).toBe(`Sample, seed ${first + 2}, class 2`);
    expect(images[0]!.alt).toBe(`Sample, seed ${first}, class 0`);
    expect(await page.isVisible('#sample-label')).toBe(true);
    expect(await page.isVisible('#walk-label')).toBe(true);
    expect(new URL(page.url()).searchParams.get('model')).toBe('tiny-conditional');
    await page.locator('#diagnostics').scrollIntoViewIfNeeded();
    await page.waitForFunction(() => document.getElementById('diagnostics')!.hidden, WAIT);
    await page.unroute(diagnosticsPictures);
    await page.selectOption('#walk-label', '4');
    await page.click('#walk-form button[type="submit"]');
    await page.waitForFunction(() => !document.getElementById('walk-result')!.hidden, WAIT);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(OUTPUT, 'playground-conditional.png') });
    await page.selectOption('#model', 'tiny');
    await gridImages();
  });

  it('hides the real-or-fake panel for a generator-only model, and shows it again for one with a discriminator', async () => {
    expect(await page.isVisible('#real-or-fake')).toBe(true);
    await page.selectOption('#model', 'generator-only');
    const images = await gridImages();
    expect([images[0]!.width, images[0]!.height]).toEqual([32, 32]);
    await page.waitForFunction(() => document.getElementById('real-or-fake')!.hidden, WAIT);
    await page.click('#sample-grid button');
    expect(await page.isVisible('#selection-score')).toBe(false);
    expect(await page.isVisible('#sample-rejection')).toBe(false);
    await page.selectOption('#model', 'tiny');
    await gridImages();
    expect(await page.isVisible('#real-or-fake')).toBe(true);
  });

  it('reports a failed request in the status line', async () => {
    await page.fill('#walk-from', '1');
    await page.fill('#walk-to', '2');
    await page.fill('#walk-steps', '6');
    // Past the API's bound, but the form's own check is bypassed: the server's message must show.
    await page.$eval('#walk-steps', (el) => {
      (el as HTMLInputElement).max = '1000';
      (el as HTMLInputElement).value = '100';
    });
    await page.click('#walk-form button[type="submit"]');
    await page.waitForFunction(() => document.getElementById('status')!.classList.contains('error'), WAIT);
    expect(await page.textContent('#status')).toMatch(/steps/);
    await page.$eval('#walk-steps', (el) => {
      (el as HTMLInputElement).max = '64';
      (el as HTMLInputElement).value = '6';
    });
    await page.click('#walk-form button[type="submit"]');
    await page.waitForFunction(() => document.getElementById('status')!.textContent === '', WAIT);
  });

  it('fits a phone screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(OUTPUT, 'playground-phone.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
