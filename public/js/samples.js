/**
 * Sample grid: count, first seed, truncation, (for conditional models) class and "keep the most real of ×N"
 * (rejection sampling with the model's discriminator); choosing an image shows its seed, a large copy to download,
 * and sends it on to the other panels.
 */
import { pngDataUrl, postForBlob, postJson, randomSeed } from './api.js';

const $ = (id) => /** @type {any} */ (document.getElementById(id));
/** Upscaling of the large copy: 28 px digits become 224 px. */
const PREVIEW_SCALE = 8;

/** Fill a class picker; `cycle` adds "each class in turn". @param {HTMLSelectElement} select @param {any} model */
export function fillClasses(select, model, cycle) {
  const names = model.classNames ?? Array.from({ length: model.numClasses ?? 0 }, (_, i) => String(i));
  const options = names.map((name, i) => new Option(name === String(i) ? name : `${i}: ${name}`, String(i)));
  if (cycle) options.unshift(new Option('Each class in turn', 'cycle'));
  select.replaceChildren(...options);
}

/** Show or hide the class fields of a form for a model. @param {HTMLElement} form @param {any} model */
export function showClassFields(form, model) {
  for (const el of form.querySelectorAll('[data-conditional]')) el.hidden = !model.conditional;
}

/** @param {any} ctx */
export function initSamples(ctx) {
  const form = $('sample-form');
  const count = $('sample-count');
  const seed = $('sample-seed');
  const truncation = $('sample-truncation');
  const truncationValue = $('sample-truncation-value');
  const label = $('sample-label');
  const rejection = $('sample-rejection');
  const grid = $('sample-grid');
  const generateButton = form.querySelector('button[type="submit"]');
  const newSeeds = $('new-seeds');
  const selection = $('selection');
  const selectionImage = $('selection-image');
  const selectionTitle = $('selection-title');
  const selectionDetail = $('selection-detail');
  const download = $('selection-download');
  /** The `rejection` option the picker asks for ("drs:4" → {method: "drs", oversample: 4}), or nothing. */
  function rejectionOption() {
    if (!rejection.value || $('sample-rejection-field').hidden) return {};
    const [method, oversample] = rejection.value.split(':');
    return { rejection: { method, oversample: Number(oversample) } };
  }

  /** @type {{seed: number, label?: number, truncation: number, kept?: any, blob?: Blob} | null} */
  let selected = null;
  let previewUrl = '';

  const showTruncation = () => {
    truncationValue.value = Number(truncation.value).toFixed(2);
  };
  truncation.addEventListener('input', showTruncation);
  showTruncation();

  /** @param {number} n */
  function labelsFor(n) {
    const model = ctx.model();
    if (!model.conditional) return {};
    if (label.value === 'cycle') return { labels: Array.from({ length: n }, (_, i) => i % model.numClasses) };
    return { label: Number(label.value) };
  }

  function generate() {
    const model = ctx.model();
    if (!model || !form.reportValidity()) return;
    const n = Number(count.value);
    const body = {
      model: model.name,
      seed: Number(seed.value),
      count: n,
      truncation: Number(truncation.value),
      format: 'json',
      ...labelsFor(n),
      ...rejectionOption(),
    };
    void ctx.run(`Generating ${n} sample${n === 1 ? '' : 's'}…`, [generateButton, newSeeds], async () => {
      grid.setAttribute('aria-busy', 'true');
      try {
        const res = await postJson('/generate', body);
        if (ctx.model() !== model) return;
        render(res.images, body.truncation);
      } finally {
        grid.removeAttribute('aria-busy');
      }
    });
  }

  /** @param {Array<{seed: number, label?: number, png: string, rejection?: any}>} images @param {number} psi */
  function render(images, psi) {
    const model = ctx.model();
    const names = model.classNames;
    grid.replaceChildren(
      ...images.map((image) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.seed = String(image.seed);
        button.setAttribute('aria-pressed', 'false');
        const img = document.createElement('img');
        img.src = pngDataUrl(image.png);
        img.width = model.image.width;
        img.height = model.image.height;
        const cls = image.label === undefined ? '' : `, class ${names?.[image.label] ?? image.label}`;
        img.alt = `Sample, seed ${image.seed}${cls}`;
        if (image.rejection) {
          const r = image.rejection;
          button.title = `Candidate ${r.candidate} of seed ${r.requestedSeed}, D ${r.score.toFixed(2)}`;
        }
        button.append(img);
        button.addEventListener('click', () => {
          for (const b of grid.querySelectorAll('button'))
            b.setAttribute('aria-pressed', String(b === button));
          select({ seed: image.seed, label: image.label, truncation: psi, kept: image.rejection });
        });
        return button;
      }),
    );
    selection.hidden = true;
  }

  /** @param {{seed: number, label?: number, truncation: number, kept?: any}} sample */
  function select(sample) {
    const model = ctx.model();
    selected = sample;
    const cls =
      sample.label === undefined ? '' : `, class ${model.classNames?.[sample.label] ?? sample.label}`;
    selectionTitle.textContent = `Seed ${sample.seed}`;
    const request = {
      model: model.name,
      seed: sample.seed,
      ...(sample.label === undefined ? {} : { label: sample.label }),
      ...(sample.truncation === 1 ? {} : { truncation: sample.truncation }),
    };
    const k = sample.kept;
    const kept = k
      ? ` Kept as candidate ${k.candidate} of seed ${k.requestedSeed} (D ${k.score.toFixed(3)}, ${k.chosenBy === 'acceptance' ? 'accepted by DRS' : 'best scored'}).`
      : '';
    selectionDetail.textContent = `${model.name}${cls}, ψ ${sample.truncation.toFixed(2)}.${kept} Reproduce with POST /generate ${JSON.stringify(request)}`;
    void ctx.run(`Fetching seed ${sample.seed}…`, [], async () => {
      const blob = await postForBlob('/generate', { ...request, scale: PREVIEW_SCALE });
      if (selected !== sample) return;
      sample.blob = blob;
      if (previewUrl) URL.revokeObjectURL(previewUrl);
      previewUrl = URL.createObjectURL(blob);
      selectionImage.src = previewUrl;
      selectionImage.alt = `Seed ${sample.seed}${cls}, enlarged`;
      download.href = previewUrl;
      download.download = `${model.name}-seed-${sample.seed}.png`;
      selection.hidden = false;
    });
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    generate();
  });
  newSeeds.addEventListener('click', () => {
    seed.value = String(randomSeed());
    generate();
  });
  $('selection-score').addEventListener('click', async () => {
    if (!selected?.blob) return;
    // The discriminator sees the model's own size: send the 1× image, not the enlarged copy.
    const s = selected;
    const model = ctx.model();
    await ctx.run('Scoring…', [], async () => {
      const small = await postForBlob('/generate', {
        model: model.name,
        seed: s.seed,
        truncation: s.truncation,
        ...(s.label === undefined ? {} : { label: s.label }),
      });
      ctx.score(small, `Generated sample, seed ${s.seed}`);
    });
  });
  $('selection-walk').addEventListener('click', () => {
    if (selected) ctx.walkFrom(selected.seed);
  });

  return {
    /** @param {any} model */
    setModel(model) {
      fillClasses(label, model, true);
      showClassFields(form, model);
      grid.replaceChildren();
      selection.hidden = true;
      // Nothing to ask "real or fake?" of a generator-only model, and nothing to keep the most real by.
      $('selection-score').hidden = model.discriminator === false;
      $('sample-rejection-field').hidden = model.discriminator === false;
      if (model.ready) generate();
    },
  };
}
