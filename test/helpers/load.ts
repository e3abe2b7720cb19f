// Waiting and load for integration tests: a bounded poll that explains its
// timeout, and a bounded client load loop that counts what failed.

import { countBy, request } from './net.js';

/** Polls `check` every 200 ms for at most `ms` (a check that throws counts as not yet); `explain()` goes into the timeout error. */
export async function eventually<T>(check: () => Promise<T | undefined>, ms: number, explain: () => string | Promise<string>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms; ${await explain()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * `clients` loops of sequential GETs of `path` until `stop.done` (at most
 * `maxRequests` each), client c on `ports[c % ports.length]` of 127.0.0.1;
 * counts 200s (and keeps their bodies) and lists every failure with its port.
 */
export async function loadLoop(ports: number | readonly number[], clients: number, stop: { done: boolean }, maxRequests: number, path = '/'): Promise<{ ok: number; failed: string[]; bodies: string[] }> {
  const entries = typeof ports === 'number' ? [ports] : ports;
  const failed: string[] = [];
  const bodies: string[] = [];
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    const port = entries[c % entries.length] ?? 0;
    for (let i = 0; i < maxRequests && !stop.done; i++) {
      try {
        const r = await request(port, { path });
        if (r.status === 200) bodies.push(r.body.trim());
        else failed.push(`:${port} ${r.status} ${r.body.slice(0, 120)}`);
      } catch (err) {
        failed.push(`:${port} ${String(err)}`);
      }
    }
  }));
  return { ok: bodies.length, failed, bodies };
}

/** loadLoop started now, until `stop()`: what the clients saw. */
export function startLoad(ports: number | readonly number[], clients: number, maxRequests: number): { stop: () => Promise<{ ok: number; failed: string[]; bodies: string[] }> } {
  const flag = { done: false };
  const running = loadLoop(ports, clients, flag, maxRequests);
  return {
    stop: async () => {
      flag.done = true;
      return running;
    },
  };
}

/**
 * Waits until `n` sequential GETs to the port reach `replicas` distinct bodies
 * (replicas answer with their own names), then counts a fresh batch: replicas
 * that joined the rotation during the first one (a loaded machine readies them
 * one by one) would leave it uneven. The count per body.
 */
export function requestSpread(port: number, n: number, replicas: number, ms: number, explain: () => string | Promise<string>): Promise<Record<string, number>> {
  const batch = async (): Promise<Record<string, number>> => {
    const bodies: string[] = [];
    for (let i = 0; i < n; i++) bodies.push((await request(port)).body.trim());
    return countBy(bodies);
  };
  return eventually(async () => {
    if (Object.keys(await batch()).length !== replicas) return undefined;
    const counts = await batch();
    return Object.keys(counts).length === replicas ? counts : undefined;
  }, ms, explain);
}

/** `n` connections at once (a few ms apart), one GET each: the count per body, for balancing per connection. */
export async function connectionSpread(port: number, n: number): Promise<Record<string, number>> {
  return countBy(await Promise.all(Array.from({ length: n }, async (_, i) => {
    await new Promise((r) => setTimeout(r, i * 5));
    return (await request(port)).body.trim();
  })));
}

/** Runs `during` while 4 clients load the port (from half a second before it until it is done); what the clients saw. */
export async function underLoad(port: number, during: () => Promise<void>): Promise<{ ok: number; failed: string[] }> {
  const stop = { done: false };
  const running = loadLoop(port, 4, stop, 2000);
  try {
    await new Promise((r) => setTimeout(r, 500));
    await during();
  } finally {
    stop.done = true;
  }
  return running;
}
