// Property test: random, mutated and truncated YAML never makes loadStacks
// throw; every problem is a ValidationError with a position ≥ 1:1. Seeded,
// so a failure reproduces; bounded to a fixed number of cases.
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { loadStacks } from '../../src/manifests/load.js';

/** mulberry32: tiny, fast, good enough to spread inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEED_FILE = `name: shop
x-common: &common
  restart: unless-stopped
  logging: { driver: json-file, options: { max-size: 10m } }
services:
  web:
    <<: *common
    image: nginx:\${TAG:-1.27}
    ports: ["8080:80", { target: 443, published: 8443 }]
    volumes: [./html:/usr/share/nginx/html:ro, data:/data]
    depends_on: { api: { condition: service_healthy } }
    cap_add: [NET_BIND_SERVICE]
    ulimits: { nofile: { soft: 1024, hard: 2048 } }
  api:
    image: example/api:1
    environment: [A=1, "B=\${B:?need B}"]
    healthcheck: { test: ["CMD", "true"], interval: 2s, start_interval: 1s }
    deploy: { replicas: 2, update_config: { order: stop-first }, resources: { limits: { memory: 64m } } }
    profiles: [x]
  worker:
    extends: { service: api }
    command: work
  cron: { extends: { file: lib/base.yaml, service: job } }
volumes: { data: {} }
networks: { default: { labels: { a: b } } }
`;

const TOKENS = ['\n', ' ', '  ', ':', '- ', '[', ']', '{', '}', ',', '"', "'", '&a', '*a', '<<: ', '!!str ', '---\n', '#', '${', '}', '\t', '|', '>', '?', '@', '%', 'services:', 'image: x', 'null', '~', '1e9', '-1', '0x10', '__proto__', 'constructor', 'extends: ', 'extends: { file: ', 'service: '];

function mutate(rand: () => number, text: string): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  switch (Math.floor(rand() * 4)) {
    case 0:
      return text.slice(0, Math.floor(rand() * text.length));
    case 1: {
      let out = text;
      const edits = 1 + Math.floor(rand() * 5);
      for (let i = 0; i < edits; i++) {
        const at = Math.floor(rand() * out.length);
        out = out.slice(0, at) + pick(TOKENS) + out.slice(at + Math.floor(rand() * 4));
      }
      return out;
    }
    case 2: {
      const lines = text.split('\n');
      const i = Math.floor(rand() * lines.length);
      const j = Math.floor(rand() * lines.length);
      [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? ''];
      return lines.join('\n');
    }
    default:
      return Array.from({ length: Math.floor(rand() * 60) }, () => pick(TOKENS)).join('');
  }
}

describe('loadStacks on random input', () => {
  it('never throws and positions every error (500 seeded cases)', { timeout: 60_000 }, () => {
    const rand = prng(20261125);
    for (let n = 0; n < 500; n++) {
      const text = mutate(rand, SEED_FILE);
      const policy = rand() < 0.2 ? { path: 'capstan.yaml', text: mutate(rand, 'policy:\n  stacks:\n    shop: { allow: [privileged, "cap:NET_ADMIN"] }\n') } : undefined;
      let result;
      try {
        result = loadStacks(new Map([['stacks/shop.yaml', text], ['stacks/html/index.html', 'x'], ['stacks/lib/base.yaml', mutate(rand, 'services:\n  job:\n    image: j:1\n    volumes: [./j:/j]\n')]]), { root: 'stacks', env: { B: 'b' }, policyFile: policy, profiles: ['x'] });
      } catch (err) {
        throw new Error(`case ${n} threw ${String(err)} on:\n${text}`);
      }
      for (const e of result.errors) {
        expect(e, `case ${n}`).toBeInstanceOf(ValidationError);
        expect(e.line, `case ${n}: ${e.format()}`).toBeGreaterThanOrEqual(1);
        expect(e.col, `case ${n}: ${e.format()}`).toBeGreaterThanOrEqual(1);
      }
      if (result.errors.length === 0) expect(result.stacks.length, `case ${n}`).toBeLessThanOrEqual(1);
    }
  });
});
