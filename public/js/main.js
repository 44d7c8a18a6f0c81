/**
 * The playground's entry point: loads the model list, keeps the chosen model, and hands it to each panel.
 * Plain ES modules, no build step; every request goes to this service's public API.
 */
import { ApiError, apiKey, getJson, setApiKey } from './api.js';
import { initDiagnostics } from './diagnostics.js';
import { initRealOrFake } from './real-or-fake.js';
import { initSamples } from './samples.js';
import { initWalk } from './walk.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const statusLine = $('status');
const picker = /** @type {HTMLSelectElement} */ ($('model'));
const info = $('model-info');
const keyInput = /** @type {HTMLInputElement} */ ($('api-key'));

/** @param {string} text @param {boolean} [error] */
function setStatus(text, error = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', error);
}

/** @param {unknown} err */
function describeError(err) {
  if (err instanceof ApiError) {
    if (err.status === 401) return 'This service needs an API key: enter it under “API key” above.';
    if (err.status === 429) return 'Rate limited: wait a moment and try again.';
    return err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Actions still running, latest last; their labels fill the status line unless an error is showing. */
const active = new Set();
let errorShown = false;

function refreshStatus() {
  if (errorShown) return;
  const running = [...active];
  setStatus(running.length > 0 ? running[running.length - 1].label : '');
}

/**
 * Run one user action: a status line while it runs, its buttons disabled, its error shown (until the next
 * action starts).
 * @param {string} label
 * @param {Array<HTMLButtonElement | null>} buttons
 * @param {() => Promise<void>} action
 */
async function run(label, buttons, action) {
  const token = { label };
  active.add(token);
  errorShown = false;
  refreshStatus();
  for (const b of buttons) if (b) b.disabled = true;
  try {
    await action();
  } catch (err) {
    errorShown = true;
    setStatus(describeError(err), true);
  } finally {
    active.delete(token);
    refreshStatus();
    for (const b of buttons) if (b) b.disabled = false;
  }
}

/** @type {any} */
let current = null;
const ctx = {
  run,
  setStatus,
  model: () => current,
  /** @type {(blob: Blob, source: string) => void} */
  score: () => {},
  /** @type {(seed: number) => void} */
  walkFrom: () => {},
};

const panels = [initSamples(ctx), initWalk(ctx), initRealOrFake(ctx), initDiagnostics(ctx)];

/** @param {any} m */
function describeModel(m) {
  const { width, height, channels } = m.image;
  const parts = [
    m.title,
    m.dataset,
    `${width}×${height} ${channels === 1 ? 'grey' : 'colour'}`,
    `latent ${m.latentDim}`,
    m.conditional ? `${m.numClasses} classes` : 'unconditional',
  ];
  if (!m.ready) parts.push(m.status === 'failed' ? 'unavailable' : 'loading');
  return parts.join(' · ');
}

/** @param {any} m */
function choose(m) {
  current = m;
  info.textContent = describeModel(m);
  const url = new URL(location.href);
  url.searchParams.set('model', m.name);
  history.replaceState(null, '', url);
  for (const p of panels) p.setModel(m);
}

/** @type {any[]} */
let listed = [];

/** The options of the model picker, one per model (those not ready are shown, disabled). */
function fillPicker(/** @type {any[]} */ models) {
  picker.replaceChildren(
    ...models.map((m) => {
      const option = new Option(m.ready ? m.name : `${m.name} (${m.status})`, m.name);
      option.disabled = !m.ready;
      return option;
    }),
  );
}

async function loadModels() {
  const list = await getJson('/v1/models');
  /** @type {any[]} */
  const models = list.models;
  if (models.length === 0) throw new Error('This service has no models.');
  listed = models;
  fillPicker(models);
  const wanted = new URLSearchParams(location.search).get('model');
  const ready = models.filter((m) => m.ready);
  const first =
    ready.find((m) => m.name === wanted) ??
    ready.find((m) => m.name === list.default) ??
    ready[0] ??
    models[0];
  picker.value = first.name;
  picker.disabled = false;
  picker.onchange = () => {
    const m = listed.find((x) => x.name === picker.value);
    if (m) choose(m);
  };
  choose(first);
}

/**
 * Models load, reload and unload while the service runs: refresh the picker now and then, keeping the choice (a
 * model that went away leaves the current panels as they are until another is picked).
 */
const REFRESH_MS = 15_000;
async function refreshModels() {
  if (!current || document.hidden) return;
  try {
    const list = await getJson('/v1/models');
    listed = list.models;
    fillPicker(listed);
    if (listed.some((m) => m.name === current.name)) picker.value = current.name;
  } catch {
    // A failed refresh changes nothing; the next one tries again.
  }
}
setInterval(() => void refreshModels(), REFRESH_MS);

keyInput.value = apiKey();
keyInput.addEventListener('change', () => {
  setApiKey(keyInput.value.trim());
  if (!current) void run('Loading models…', [], loadModels);
});

void run('Loading models…', [], loadModels);
