/**
 * Latent walk between two seeds: every step as a strip, and the walk as an animation (POST /interpolate).
 */
import { postForBlob } from './api.js';
import { fillClasses, showClassFields } from './samples.js';

const $ = (id) => /** @type {any} */ (document.getElementById(id));
const STRIP_SCALE = 3;
const ANIMATION_SCALE = 6;
const FRAME_DELAY_MS = 120;

/** @param {any} ctx */
export function initWalk(ctx) {
  const form = $('walk-form');
  const from = $('walk-from');
  const to = $('walk-to');
  const steps = $('walk-steps');
  const label = $('walk-label');
  const result = $('walk-result');
  const strip = $('walk-strip');
  const animation = $('walk-animation');
  const gifLink = $('walk-gif');
  const walkButton = form.querySelector('button[type="submit"]');
  /** @type {string[]} */
  let urls = [];
  /** @type {any} */
  let lastRequest = null;

  function request() {
    const model = ctx.model();
    const method = form.querySelector('input[name="method"]:checked').value;
    return {
      model: model.name,
      from: { seed: Number(from.value) },
      to: { seed: Number(to.value) },
      steps: Number(steps.value),
      method,
      ...(model.conditional ? { label: Number(label.value) } : {}),
    };
  }

  /** Walks answer out of order; only the latest one asked for is shown. */
  let latest = 0;
  function walk() {
    const model = ctx.model();
    if (!model || !form.reportValidity()) return;
    const body = request();
    const mine = ++latest;
    void ctx.run(`Walking ${body.steps} steps…`, [walkButton], async () => {
      const [png, webp] = await Promise.all([
        postForBlob('/interpolate', { ...body, format: 'png', scale: STRIP_SCALE }),
        postForBlob('/interpolate', {
          ...body,
          format: 'webp',
          scale: ANIMATION_SCALE,
          frameDelayMs: FRAME_DELAY_MS,
        }),
      ]);
      if (ctx.model() !== model || mine !== latest) return;
      for (const u of urls) URL.revokeObjectURL(u);
      urls = [URL.createObjectURL(png), URL.createObjectURL(webp)];
      const what = `${body.steps} images on a ${body.method} path from seed ${body.from.seed} to seed ${body.to.seed}`;
      strip.alt = `Latent walk: ${what}`;
      animation.alt = `Animation of the walk: ${what}`;
      // Wait for both to decode, so the strip and animation appear together.
      await Promise.all([load(strip, urls[0]), load(animation, urls[1])]);
      lastRequest = body;
      result.hidden = false;
    });
  }

  /** @param {HTMLImageElement} img @param {string} src */
  function load(img, src) {
    img.src = src;
    return img.decode().catch(() => {});
  }

  gifLink.addEventListener('click', (e) => {
    e.preventDefault();
    if (!lastRequest) return;
    const body = lastRequest;
    void ctx.run('Making a GIF…', [], async () => {
      const gif = await postForBlob('/interpolate', {
        ...body,
        format: 'gif',
        scale: ANIMATION_SCALE,
        frameDelayMs: FRAME_DELAY_MS,
      });
      const a = document.createElement('a');
      a.href = URL.createObjectURL(gif);
      a.download = `${body.model}-walk-${body.from.seed}-${body.to.seed}.gif`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    });
  });

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    walk();
  });

  ctx.walkFrom = (/** @type {number} */ seed) => {
    from.value = String(seed);
    if (Number(to.value) === seed) to.value = String((seed + 1) % 2 ** 32);
    form.scrollIntoView({ behavior: 'smooth', block: 'start' });
    walk();
  };

  return {
    /** @param {any} model */
    setModel(model) {
      fillClasses(label, model, false);
      showClassFields(form, model);
      result.hidden = true;
      lastRequest = null;
      // A walk from the form's seeds right away, so the panel shows what it does before anyone asks.
      if (model.ready) walk();
    },
  };
}
