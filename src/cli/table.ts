// Plain-text tables and durations for command output, shared by `status`,
// `ps` and `history`: columns padded to their widest cell, the last one left
// ragged so long messages do not push the table wide.

/** The first row is the header. */
export function renderTable(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

/** `<1s`, `45s`, `12m5s`, `3h7m`, `4d2h`: two units at most, like `docker ps`'s "Up" column but shorter. */
export function humanDuration(ms: number): string {
  if (ms < 1000) return '<1s';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 === 0 ? '' : `${s % 60}s`}`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${m % 60 === 0 ? '' : `${m % 60}m`}`;
  const d = Math.floor(h / 24);
  return `${d}d${h % 24 === 0 ? '' : `${h % 24}h`}`;
}
