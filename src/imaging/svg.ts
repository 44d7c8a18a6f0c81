/**
 * Text inside the SVG pictures (diagnostics charts and grids, training curves) drawn through sharp.
 */

const XML_ENTITIES: Record<string, string> = {
  '<': '&lt;',
  '>': '&gt;',
  '&': '&amp;',
  '"': '&quot;',
  "'": '&#39;',
};

/** `s` safe inside an SVG text node or a quoted attribute: <, >, &, " and ' as entities. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => XML_ENTITIES[c]!);
}
