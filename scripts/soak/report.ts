/**
 * The soak's report: requests by scenario and status, the 5xx and unexpected counts, and the Markdown page
 * (docs/reliability.md) written from it.
 */
import type { Scenario } from './scenarios.ts';

export interface SoakWindow {
  /** Seconds since the load started. */
  t: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  rssMiB: number;
}

export interface SoakTableRow {
  scenario: string;
  /** Answers by status (`200`, `400`, or `error: <name>` for a request that got none). */
  statuses: Record<string, number>;
}

export interface SoakReport {
  date: string;
  command: string;
  model: string;
  machine: { cpu: string | undefined; cores: number; node: string; loadAverageAtEnd: number[] };
  minutes: number;
  connections: number;
  total: number;
  fiveXX: number;
  unexpected: number;
  unexpectedSamples: Array<{ scenario: string; status: string; body: string }>;
  rss: { startMiB: number; endMiB: number };
  serverExitCode: number | null;
  table: SoakTableRow[];
  windows: SoakWindow[];
}

/** The table of answers and its totals: all requests, 5xx, and answers with a status the scenario did not expect. */
export function summarise(
  counts: ReadonlyMap<string, ReadonlyMap<string, number>>,
  scenarios: readonly Scenario[],
): { table: SoakTableRow[]; total: number; fiveXX: number; unexpected: number } {
  const table = [...counts].map(([name, byStatus]) => ({
    scenario: name,
    statuses: Object.fromEntries(byStatus),
  }));
  let total = 0;
  let fiveXX = 0;
  let unexpected = 0;
  for (const row of table) {
    const expected = scenarios.find((s) => s.name === row.scenario)?.expect.map(String) ?? [];
    for (const [status, n] of Object.entries(row.statuses)) {
      total += n;
      if (status.startsWith('5')) fiveXX += n;
      if (!expected.includes(status)) unexpected += n;
    }
  }
  return { table, total, fiveXX, unexpected };
}

/** The Markdown page of a report whose windows are `windowS` seconds long. */
export function soakMarkdown(report: SoakReport, windowS: number): string {
  const statusCols = [...new Set(report.table.flatMap((r) => Object.keys(r.statuses)))].sort();
  return `# Reliability

Soak test measured by \`${report.command}\` on ${report.date.slice(0, 10)}: ${report.connections} concurrent clients for ${report.minutes} minutes
of mixed traffic against the real service (model \`${report.model}\`), on ${report.machine.cpu} (${report.machine.cores} cores), Node ${report.machine.node}; load average at the end
${report.machine.loadAverageAtEnd.join(' / ')} (1, 5 and 15 minutes).
Raw figures in [reliability.json](reliability.json).

- ${report.total} requests; **${report.fiveXX} 5xx**; ${report.unexpected} answers with a status the scenario did not expect.
- Server RSS ${report.rss.startMiB} MiB at the start of the load, ${report.rss.endMiB} MiB at the end; the service then shut down on SIGTERM with exit code ${report.serverExitCode}.

## Requests by scenario and status

| scenario | ${statusCols.join(' | ')} |
| --- | ${statusCols.map(() => '---:').join(' | ')} |
${report.table.map((r) => `| ${r.scenario} | ${statusCols.map((c) => r.statuses[c] ?? 0).join(' | ')} |`).join('\n')}

## Latency and memory over time (${windowS} s windows)

| t (s) | requests | p50 (ms) | p99 (ms) | RSS (MiB) |
| ---: | ---: | ---: | ---: | ---: |
${report.windows.map((w) => `| ${w.t} | ${w.requests} | ${w.p50Ms} | ${w.p99Ms} | ${w.rssMiB} |`).join('\n')}
`;
}
