/**
 * Real or fake: the discriminator's probability for a drawing, a dropped or chosen file, a generated sample or
 * a real test image (POST /discriminate).
 */
import { discriminate, getBlob, getJson, postForBlob, randomSeed } from './api.js';

const $ = (id) => /** @type {any} */ (document.getElementById(id));
/** Pen width on the 280 px canvas: about 2 px at 28 px, an MNIST stroke. */
const PEN_WIDTH = 22;
/** MNIST digits are scaled to fit 20×20 and centred in 28×28; drawings are prepared the same way. */
const DIGIT_BOX = 20 / 28;

/** @param {any} ctx */
export function initRealOrFake(ctx) {
  const canvas = /** @type {HTMLCanvasElement} */ ($('draw-canvas'));
  const pen = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d', { willReadFrequently: true }));
  const dropZone = $('drop-zone');
  const upload = $('upload');
  const drawButton = $('draw-score');
  const generatedButton = $('score-generated');
  const realButton = $('score-real');
  const verdict = $('verdict');
  const verdictImage = $('verdict-image');
  const verdictSource = $('verdict-source');
  const verdictProbability = $('verdict-probability');
  const verdictText = $('verdict-text');
  const meter = $('verdict-meter');
  let previewUrl = '';
  let realTurn = 0;
  /** @type {Promise<any[]> | null} */
  let realIndex = null;

  // Drawing: white on black, round pen, pointer events (mouse, touch and stylus alike).
  function clear() {
    pen.fillStyle = '#000';
    pen.fillRect(0, 0, canvas.width, canvas.height);
  }
  clear();
  /** @type {{x: number, y: number} | null} */
  let last = null;
  /** @param {PointerEvent} e */
  const point = (e) => {
    const r = canvas.getBoundingClientRect();
    return {
      x: ((e.clientX - r.left) * canvas.width) / r.width,
      y: ((e.clientY - r.top) * canvas.height) / r.height,
    };
  };
  /** @param {{x: number, y: number}} a @param {{x: number, y: number}} b */
  function stroke(a, b) {
    pen.strokeStyle = '#fff';
    pen.lineWidth = PEN_WIDTH;
    pen.lineCap = 'round';
    pen.lineJoin = 'round';
    pen.beginPath();
    pen.moveTo(a.x, a.y);
    pen.lineTo(b.x, b.y);
    pen.stroke();
  }
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = point(e);
    stroke(last, last);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = point(e);
    stroke(last, p);
    last = p;
  });
  const lift = () => {
    last = null;
  };
  canvas.addEventListener('pointerup', lift);
  canvas.addEventListener('pointercancel', lift);
  $('draw-clear').addEventListener('click', clear);

  /**
   * The drawing as the model sees it: cropped to the ink, fitted into the central 20/28 of the model's size,
   * grey PNG. Null when nothing is drawn.
   * @returns {Promise<Blob | null>}
   */
  async function drawingAsImage() {
    const model = ctx.model();
    const { data } = pen.getImageData(0, 0, canvas.width, canvas.height);
    let [x0, y0, x1, y1] = [canvas.width, canvas.height, -1, -1];
    for (let y = 0; y < canvas.height; y++) {
      for (let x = 0; x < canvas.width; x++) {
        if (data[(y * canvas.width + x) * 4] > 32) {
          if (x < x0) x0 = x;
          if (x > x1) x1 = x;
          if (y < y0) y0 = y;
          if (y > y1) y1 = y;
        }
      }
    }
    if (x1 < 0) return null;
    const { width, height } = model.image;
    const out = document.createElement('canvas');
    out.width = width;
    out.height = height;
    const g = /** @type {CanvasRenderingContext2D} */ (out.getContext('2d'));
    g.fillStyle = '#000';
    g.fillRect(0, 0, width, height);
    g.imageSmoothingQuality = 'high';
    const [w, h] = [x1 - x0 + 1, y1 - y0 + 1];
    const fit = (Math.min(width, height) * DIGIT_BOX) / Math.max(w, h);
    const [dw, dh] = [w * fit, h * fit];
    g.drawImage(canvas, x0, y0, w, h, (width - dw) / 2, (height - dh) / 2, dw, dh);
    return new Promise((resolve) => out.toBlob((b) => resolve(b), 'image/png'));
  }

  /** @param {Blob} blob @param {string} source */
  async function score(blob, source) {
    const model = ctx.model();
    const result = await discriminate(model.name, blob);
    if (ctx.model() !== model) return;
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(blob);
    verdictImage.src = previewUrl;
    verdictImage.alt = source;
    const p = result.probabilityReal;
    verdictSource.textContent = `${source}, scored by ${model.name}’s discriminator`;
    verdictProbability.textContent = `${(p * 100).toFixed(1)}%`;
    verdictText.textContent = p >= 0.5 ? 'real, says the discriminator' : 'fake, says the discriminator';
    meter.value = p;
    verdict.dataset.probability = String(p);
    verdict.hidden = false;
  }
  ctx.score = (/** @type {Blob} */ blob, /** @type {string} */ source) =>
    void ctx.run('Scoring…', [], async () => {
      await score(blob, source);
      verdict.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
    });

  drawButton.addEventListener('click', () =>
    ctx.run('Scoring your drawing…', [drawButton], async () => {
      const image = await drawingAsImage();
      if (!image) throw new Error('Draw something on the black square first.');
      await score(image, 'Your drawing, as the model sees it');
    }),
  );

  /** @param {File | undefined} file */
  function scoreFile(file) {
    if (!file) return;
    void ctx.run(`Scoring ${file.name}…`, [], () => score(file, `Your file ${file.name}`));
  }
  upload.addEventListener('change', () => scoreFile(upload.files?.[0]));
  dropZone.addEventListener('dragover', (/** @type {DragEvent} */ e) => {
    e.preventDefault();
    dropZone.classList.add('over');
  });
  dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));
  dropZone.addEventListener('drop', (/** @type {DragEvent} */ e) => {
    e.preventDefault();
    dropZone.classList.remove('over');
    scoreFile(e.dataTransfer?.files?.[0]);
  });

  generatedButton.addEventListener('click', () =>
    ctx.run('Generating and scoring…', [generatedButton], async () => {
      const model = ctx.model();
      const seed = randomSeed();
      const label = model.conditional ? Math.floor(Math.random() * model.numClasses) : undefined;
      const blob = await postForBlob('/generate', {
        model: model.name,
        seed,
        ...(label === undefined ? {} : { label }),
      });
      await score(blob, `Generated sample, seed ${seed}`);
    }),
  );

  realButton.addEventListener('click', () =>
    ctx.run('Scoring a real image…', [realButton], async () => {
      const model = ctx.model();
      realIndex ??= getJson('/real/index.json');
      const all = await realIndex;
      const same = all.filter((r) => r.dataset === model.dataset);
      const pool = same.length > 0 ? same : all.filter((r) => r.dataset === 'mnist');
      const pick = pool[realTurn++ % pool.length];
      const blob = await getBlob(`/real/${pick.file}`);
      const name = pick.dataset === 'mnist' ? 'MNIST' : 'Fashion-MNIST';
      const note = same.length > 0 ? '' : ` (this model was trained on ${model.dataset})`;
      await score(blob, `Real ${name} test image #${pick.index}, “${pick.className}”${note}`);
    }),
  );

  const section = $('real-or-fake');
  return {
    /** A generator-only model has no discriminator to ask: the panel is hidden for it. */
    setModel(/** @type {any} */ model) {
      verdict.hidden = true;
      section.hidden = model.discriminator === false;
    },
  };
}
