/**
 * Reading the files of a multipart/form-data request under the same total limit as every other body
 * (GAN_BODY_LIMIT_BYTES). @fastify/multipart limits each file and the number of parts but not their sum, and its
 * parser never passes through Fastify's body limit; here the request's bytes are counted as they arrive, and once
 * they pass the limit reading stops at once (413): no more than the limit is ever buffered.
 */
import type { FastifyRequest } from 'fastify';
import { invalid, ServiceError } from '../errors.ts';

export interface UploadedFile {
  data: Buffer;
  /** `files[i]`, for error messages. */
  field: string;
}

const tooLarge = (limit: number, what: string) =>
  new ServiceError(
    'GAN_ERR_PAYLOAD_TOO_LARGE',
    `${what} is larger than ${limit} bytes (GAN_BODY_LIMIT_BYTES)`,
    'body',
  );

/**
 * Every part of the body, read whole, in order; a part that is not a file is refused (400 naming it).
 * @param maxBytes the most bytes the whole body may have, part headers and boundaries included
 */
export async function readMultipartFiles(request: FastifyRequest, maxBytes: number): Promise<UploadedFile[]> {
  const declared = Number(request.headers['content-length']);
  if (declared > maxBytes) throw tooLarge(maxBytes, `the body (content-length ${declared})`);

  let received = 0;
  let overflow: (err: ServiceError) => void = () => {};
  const overflowed = new Promise<never>((_, reject) => {
    overflow = reject;
  });
  overflowed.catch(() => {}); // raced below; a body that never overflows leaves it pending
  const raw = request.raw;
  const count = (chunk: Buffer) => {
    received += chunk.length;
    if (received > maxBytes) {
      raw.off('data', count);
      // Stop reading: nothing more reaches the parser, and the answer closes the connection.
      raw.unpipe();
      raw.pause();
      overflow(tooLarge(maxBytes, 'the body'));
    }
  };
  raw.on('data', count);

  const files: UploadedFile[] = [];
  try {
    const parts = request.parts()[Symbol.asyncIterator]();
    for (;;) {
      const next = await Promise.race([parts.next(), overflowed]);
      if (next.done) break;
      const part = next.value;
      if (part.type !== 'file') {
        throw invalid(
          part.fieldname,
          `multipart field '${part.fieldname}' is not a file (a file part needs a filename, as curl -F name=@file.png sends); model and label go in the query string (?model=…&label=…)`,
        );
      }
      const field = `files[${files.length}]`;
      const chunks: Buffer[] = [];
      const reader = part.file[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      try {
        for (;;) {
          const chunk = await Promise.race([reader.next(), overflowed]);
          if (chunk.done) break;
          chunks.push(chunk.value);
        }
      } catch (err) {
        part.file.destroy();
        throw err;
      }
      if (part.file.truncated) {
        throw new ServiceError(
          'GAN_ERR_PAYLOAD_TOO_LARGE',
          `${field} is larger than ${maxBytes} bytes (GAN_BODY_LIMIT_BYTES)`,
          'images',
        );
      }
      files.push({ data: Buffer.concat(chunks), field });
    }
  } catch (err) {
    // Ours and @fastify/multipart's (FST_…, their limits) as they are; busboy's parse errors and a body cut off by
    // the client are the client's body.
    const code = (err as { code?: unknown }).code;
    if (err instanceof ServiceError || (typeof code === 'string' && code.startsWith('FST_'))) throw err;
    throw invalid(
      'body',
      `malformed multipart/form-data body: ${err instanceof Error ? err.message : String(err)}`,
    );
  } finally {
    raw.off('data', count);
  }
  return files;
}
