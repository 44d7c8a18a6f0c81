/**
 * Reading a request's Content-Type header: its media type and parameters, in one place for every route and hook.
 */

/** A Content-Type's media type and parameters (RFC 9110: quoted values may hold ';' and '='). */
export function parseContentType(header: string): { type: string; params: Map<string, string> } {
  const at = header.indexOf(';');
  const type = (at < 0 ? header : header.slice(0, at)).trim().toLowerCase();
  const params = new Map<string, string>();
  if (at >= 0) {
    const re = /;\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)/g;
    for (const m of header.slice(at).matchAll(re)) {
      const raw = m[2]!.trim();
      const value = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
      params.set(m[1]!.toLowerCase(), value);
    }
  }
  return { type, params };
}
