/**
 * Diagnostics panel: the class histogram and class-sorted grid of a model's samples, for models with a dataset
 * classifier. Hidden when the model has none or the service doesn't offer the diagnostics routes. The pictures
 * take thousands of samples to make, so they are fetched only once the panel scrolls into view.
 */
import { ApiError, getBlob } from './api.js';

const $ = (id) => /** @type {any} */ (document.getElementById(id));

/** @param {any} ctx */
export function initDiagnostics(ctx) {
  const section = $('diagnostics');
  const note = $('diag-status');
  const truncation = $('diag-truncation');
  const truncationValue = $('diag-truncation-value');
  const figures = [
    { img: $('diag-histogram'), figure: $('diag-histogram-figure'), path: 'histogram.png' },
    { img: $('diag-grid'), figure: $('diag-grid-figure'), path: 'grid.png' },
  ];
  /** @type {string[]} */
  let urls = [];
  /** @type {any} */
  let wanted = null;
  /** The model whose pictures are shown, and which load is the latest (an older one's answer is dropped). */
  /** @type {any} */
  let shown = null;
  let generation = 0;

  /** @param {any} model */
  async function load(model) {
    const mine = ++generation;
    shown = model;
    note.textContent = 'Sampling and classifying…';
    section.setAttribute('aria-busy', 'true');
    const base = `/v1/models/${encodeURIComponent(model.name)}/diagnostics`;
    const psi = Number(truncation.value);
    const query = psi === 1 ? '' : `?truncation=${psi}`;
    const results = await Promise.allSettled(figures.map((f) => getBlob(`${base}/${f.path}${query}`)));
    if (ctx.model() !== model || mine !== generation) return;
    for (const u of urls) URL.revokeObjectURL(u);
    urls = [];
    section.removeAttribute('aria-busy');
    // A 404 means this service has no diagnostics routes: hide the whole panel.
    if (
      results.some((r) => r.status === 'rejected' && r.reason instanceof ApiError && r.reason.status === 404)
    ) {
      section.hidden = true;
      return;
    }
    results.forEach((r, i) => {
      const f = figures[i];
      f.figure.hidden = r.status !== 'fulfilled';
      if (r.status === 'fulfilled') {
        const url = URL.createObjectURL(r.value);
        urls.push(url);
        f.img.src = url;
      }
    });
    const failed = results.find((r) => r.status === 'rejected');
    note.textContent = failed ? `Diagnostics failed: ${failed.reason?.message ?? failed.reason}` : '';
    if (results.every((r) => r.status === 'rejected')) section.hidden = true;
  }

  truncation.addEventListener('input', () => {
    truncationValue.value = Number(truncation.value).toFixed(1);
  });
  // A new ψ redraws the pictures of the model on show (on release, not on every step of the slider).
  truncation.addEventListener('change', () => {
    if (shown && !section.hidden) {
      void load(shown).catch(() => {
        section.hidden = true;
      });
    }
  });

  const observer = new IntersectionObserver((entries) => {
    if (!entries.some((e) => e.isIntersecting) || !wanted) return;
    const model = wanted;
    wanted = null;
    void load(model).catch(() => {
      section.hidden = true;
    });
  });
  observer.observe(section);

  return {
    /** @param {any} model */
    setModel(model) {
      for (const u of urls) URL.revokeObjectURL(u);
      urls = [];
      for (const f of figures) {
        f.img.removeAttribute('src');
        f.figure.hidden = true;
      }
      note.textContent = '';
      shown = null;
      generation++;
      section.hidden = !model.diagnostics || !model.ready;
      // Fetched when the panel is on screen (the observer fires at once if it already is).
      wanted = section.hidden ? null : model;
      if (!section.hidden) {
        observer.unobserve(section);
        observer.observe(section);
      }
    },
  };
}
