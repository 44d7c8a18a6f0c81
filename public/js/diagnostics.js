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
  const figures = [
    { img: $('diag-histogram'), figure: $('diag-histogram-figure'), path: 'histogram.png' },
    { img: $('diag-grid'), figure: $('diag-grid-figure'), path: 'grid.png' },
  ];
  /** @type {string[]} */
  let urls = [];
  /** @type {any} */
  let wanted = null;

  /** @param {any} model */
  async function load(model) {
    note.textContent = 'Sampling and classifying…';
    section.setAttribute('aria-busy', 'true');
    const base = `/v1/models/${encodeURIComponent(model.name)}/diagnostics`;
    const results = await Promise.allSettled(figures.map((f) => getBlob(`${base}/${f.path}`)));
    if (ctx.model() !== model) return;
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
