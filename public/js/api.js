/**
 * The service's HTTP API as the page uses it: JSON and image requests, the optional API key, and errors
 * turned into messages that name the field at fault.
 */

const KEY_STORAGE = 'gan-serve.apiKey';

export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   * @param {string | undefined} field
   */
  constructor(message, status, field) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.field = field;
  }
}

export function apiKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

/** @param {string} key */
export function setApiKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage can be disabled (private modes); the key then lasts until the page closes.
  }
}

/** @param {Record<string, string>} headers */
function withKey(headers = {}) {
  const key = apiKey();
  return key ? { ...headers, authorization: `Bearer ${key}` } : headers;
}

/** @param {Response} res */
async function failure(res) {
  let message = `${res.status} ${res.statusText}`;
  let field;
  try {
    const body = await res.json();
    if (body?.error?.message) message = body.error.message;
    field = body?.error?.field;
  } catch {
    // Not our JSON error shape (a proxy's page, say): keep the status line.
  }
  return new ApiError(message, res.status, field);
}

/**
 * @param {string} url
 * @param {RequestInit} [init]
 */
async function request(url, init = {}) {
  const res = await fetch(url, {
    ...init,
    headers: withKey(/** @type {Record<string,string>} */ (init.headers)),
  });
  if (!res.ok) throw await failure(res);
  return res;
}

/** @param {string} url */
export async function getJson(url) {
  return (await request(url)).json();
}

/** @param {string} url */
export async function getBlob(url) {
  return (await request(url)).blob();
}

/**
 * @param {string} url
 * @param {unknown} body
 */
export async function postJson(url, body) {
  return (
    await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  ).json();
}

/**
 * POST JSON, receive an image.
 * @param {string} url
 * @param {unknown} body
 */
export async function postForBlob(url, body) {
  return (
    await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
  ).blob();
}

/**
 * Score one image file with a model's discriminator.
 * @param {string} model
 * @param {Blob} image PNG, JPEG, WebP or GIF
 * @returns {Promise<{probabilityReal: number, logit: number}>}
 */
export async function discriminate(model, image) {
  const type = image.type || 'image/png';
  const res = await request(`/discriminate?model=${encodeURIComponent(model)}`, {
    method: 'POST',
    headers: { 'content-type': type },
    body: image,
  });
  const body = await res.json();
  return body.results[0];
}

/** @param {string} base64 */
export function pngDataUrl(base64) {
  return `data:image/png;base64,${base64}`;
}

/** A fresh uint32 seed. */
export function randomSeed() {
  return crypto.getRandomValues(new Uint32Array(1))[0];
}
