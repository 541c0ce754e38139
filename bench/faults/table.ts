/** The results of the fault scenarios as a Markdown table (printed by `npm run faults`, kept in BENCHMARKS.md). */
import type { ScenarioResult } from './context.js';

const cell = (v: number | undefined, unit = ''): string =>
  v === undefined ? '—' : Number.isNaN(v) ? 'error' : `${Math.round(v)}${unit}`;

export function resultTable(results: ScenarioResult[]): string {
  const lines = [
    '| scenario | calls | failed | may have been processed | recovery (ms) | records lost | notes |',
    '|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of results)
    lines.push(
      `| ${r.name} | ${r.calls} | ${cell(r.failed)} | ${cell(r.maybeProcessed)} | ${cell(r.recoverMs)} | ` +
        `${cell(r.recordsLost)} | ${r.notes.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`,
    );
  return lines.join('\n');
}
