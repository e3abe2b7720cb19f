// Compose port syntaxes → PortSpec lists. Short form
// "[[ip:]published:]target[/proto]" with ranges expanded pairwise; the long
// form's fields are checked here too. Errors come back as message strings.

import type { PortSpec } from './model.js';

interface Range {
  start: number;
  end: number;
}

function parseRange(s: string): Range | undefined {
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  if (m === null) return undefined;
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start < 1 || end > 65535 || end < start) return undefined;
  return { start, end };
}

export function parsePortShort(input: string | number): PortSpec[] | string {
  const raw = String(input).trim();
  let rest = raw;
  let protocol: 'tcp' | 'udp' = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (p !== 'tcp' && p !== 'udp') return `protocol ${JSON.stringify(p)} is not supported; use tcp or udp`;
    protocol = p;
    rest = rest.slice(0, slash);
  }
  let hostIp = '';
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') return `invalid port ${JSON.stringify(raw)}`;
    hostIp = rest.slice(1, close);
    rest = rest.slice(close + 2);
  }
  const parts = rest.split(':');
  let publishedText: string | undefined;
  let targetText: string;
  if (parts.length === 1) {
    targetText = parts[0] ?? '';
  } else if (parts.length === 2 && hostIp === '' && /^\d+\.\d+\.\d+\.\d+$/.test(parts[0] ?? '')) {
    // "127.0.0.1:80": Docker reads an IPv4 address here as the host IP with an ephemeral host port.
    hostIp = parts[0] ?? '';
    targetText = parts[1] ?? '';
  } else if (parts.length === 2) {
    publishedText = parts[0];
    targetText = parts[1] ?? '';
  } else if (parts.length === 3 && hostIp === '') {
    hostIp = parts[0] ?? '';
    publishedText = parts[1];
    targetText = parts[2] ?? '';
  } else {
    return `invalid port ${JSON.stringify(raw)}; expected [[ip:]published:]target[/protocol]`;
  }
  const target = parseRange(targetText);
  if (target === undefined) return `invalid container port ${JSON.stringify(targetText)} in ${JSON.stringify(raw)}`;
  const published = publishedText === undefined || publishedText === '' ? undefined : parseRange(publishedText);
  if (publishedText !== undefined && publishedText !== '' && published === undefined) return `invalid host port ${JSON.stringify(publishedText)} in ${JSON.stringify(raw)}`;
  const size = target.end - target.start;
  if (published !== undefined && published.end - published.start !== size) {
    return `host port range ${publishedText ?? ''} and container port range ${targetText} differ in size`;
  }
  const out: PortSpec[] = [];
  for (let i = 0; i <= size; i++) {
    out.push({ hostIp, published: published === undefined ? undefined : published.start + i, target: target.start + i, protocol });
  }
  return out;
}

export function parsePortNumber(input: string | number): number | undefined {
  const n = typeof input === 'number' ? input : /^\d+$/.test(input.trim()) ? Number(input.trim()) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

/** `expose` entries: "3000", 3000, "3000-3002", "3000/udp" (the protocol is not kept). */
export function parseExpose(input: string | number): number[] | string {
  const raw = String(input).trim();
  const body = raw.replace(/\/(tcp|udp)$/i, '');
  const r = parseRange(body);
  if (r === undefined) return `invalid port ${JSON.stringify(raw)}`;
  const out: number[] = [];
  for (let p = r.start; p <= r.end; p++) out.push(p);
  return out;
}
