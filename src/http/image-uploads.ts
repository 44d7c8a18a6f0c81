/**
 * The images of an upload request, however they came: one raw image body (PNG, JPEG, WebP, GIF), multipart files,
 * or JSON `{"images": [<base64>], "model"?, "labels"?}`; each with the field name errors should point at. Counts and
 * sizes are checked before anything is decoded.
 */
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseContentType } from '../content-type.ts';
import { invalid, ServiceError } from '../errors.ts';
import { labelSchema, modelNameSchema } from '../schemas/common.ts';
import { readMultipartFiles } from './multipart.ts';

export const IMAGE_CONTENT_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;

export const uploadJsonSchema = z.strictObject({
  model: modelNameSchema.optional(),
  images: z.array(z.string().min(1).describe('Image file (PNG, JPEG, WebP, GIF), base64')).min(1),
  labels: z.array(labelSchema).optional(),
});

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface UploadedFile {
  data: Buffer;
  /** Where errors about it point: `body`, `file`, `images[2]`. */
  field: string;
}

export interface Uploads {
  files: UploadedFile[];
  /** The model named in a JSON body, if any. */
  model?: string;
  /** Labels given in a JSON body, if any. */
  labels?: number[];
}

/** One base64 image of a JSON body: a data: URL prefix, line breaks and the URL-safe alphabet are accepted. */
function fromBase64(b64: string, field: string): Buffer {
  const clean = b64
    .replace(/^data:image\/[a-z]+;base64,/, '')
    .replace(/\s+/g, '')
    .replace(/-/g, '+')
    .replace(/_/g, '/');
  if (!BASE64.test(clean) || clean.replace(/=+$/, '').length % 4 === 1) {
    throw invalid(field, `${field} is not base64`);
  }
  return Buffer.from(clean, 'base64');
}

const tooMany = (max: number, got: number) =>
  new ServiceError('GAN_ERR_PAYLOAD_TOO_LARGE', `at most ${max} images per request, got ${got}`, 'images');

/** Read the images of a request whose body Fastify has parsed (raw images as a Buffer, JSON as an object). */
export async function readImageUploads(
  request: FastifyRequest,
  limits: { maxImages: number; bodyLimitBytes: number },
): Promise<Uploads> {
  const contentType = parseContentType(request.headers['content-type'] ?? '').type;
  const out: Uploads = { files: [] };
  if ((IMAGE_CONTENT_TYPES as readonly string[]).includes(contentType)) {
    out.files.push({ data: request.body as Buffer, field: 'body' });
  } else if (contentType === 'multipart/form-data') {
    out.files.push(...(await readMultipartFiles(request, limits.bodyLimitBytes)));
  } else if (contentType === 'application/json') {
    // Count before anything is decoded: a million tiny entries must not cost a million buffers.
    const images = (request.body as { images?: unknown } | null)?.images;
    if (Array.isArray(images) && images.length > limits.maxImages)
      throw tooMany(limits.maxImages, images.length);
    const parsed = uploadJsonSchema.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const field = ['body', ...issue.path.map(String)]
        .join('.')
        .replace(/\.(\d+)/g, '[$1]')
        .replace(/^body\./, '');
      throw invalid(field, `${field}: ${issue.message}`);
    }
    if (parsed.data.model !== undefined) out.model = parsed.data.model;
    if (parsed.data.labels !== undefined) out.labels = parsed.data.labels;
    parsed.data.images.forEach((b64, i) => {
      out.files.push({ data: fromBase64(b64, `images[${i}]`), field: `images[${i}]` });
    });
  } else {
    throw new ServiceError(
      'GAN_ERR_UNSUPPORTED_MEDIA_TYPE',
      `content-type must be one of ${[...IMAGE_CONTENT_TYPES, 'multipart/form-data', 'application/json'].join(', ')}; got '${contentType || 'none'}'`,
      'content-type',
    );
  }
  if (out.files.length === 0) throw invalid('images', 'no image in the request');
  if (out.files.length > limits.maxImages) throw tooMany(limits.maxImages, out.files.length);
  return out;
}
