// The events watcher against fake streams (a pure unit: the real stream is
// exercised by the daemon's healing test): it parses engine lines, and when a
// stream ends it reconnects with backoff and asks for a resync.

import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseEvent, watchEngineEvents, type EngineEvent } from '../../src/backends/docker/events.js';
import { silentLogger } from '../../src/logging/logger.js';

const line = (action: string, id = 'c1'): string =>
  `${JSON.stringify({ Type: 'container', Action: action, Actor: { ID: id, Attributes: { name: 'web-api-2', 'io.capstan.stack': 'web', 'io.capstan.service': 'api', exitCode: '137' } }, timeNano: 1_700_000_000_123 * 1e6 })}\n`;

describe('parseEvent', () => {
  it('reads container, names, labels and exit code', () => {
    expect(parseEvent(line('die').trim())).toEqual({ action: 'die', containerId: 'c1', name: 'web-api-2', stack: 'web', service: 'api', exitCode: 137, time: 1_700_000_000_123 });
  });
  it('ignores garbage and other object types', () => {
    expect(parseEvent('not json')).toBeUndefined();
    expect(parseEvent(JSON.stringify({ Type: 'network', Action: 'connect', Actor: { ID: 'n' } }))).toBeUndefined();
  });
  it('leaves out the router container, which is no replica to heal', () => {
    expect(parseEvent(JSON.stringify({ Type: 'container', Action: 'die', Actor: { ID: 'r', Attributes: { name: 'capstan-router-prod', 'io.capstan.role': 'router' } } }))).toBeUndefined();
  });
});

describe('watchEngineEvents', () => {
  it('delivers events split across chunks, reconnects when the stream ends, and asks for a resync', async () => {
    const streams: PassThrough[] = [];
    const events: EngineEvent[] = [];
    let reconnects = 0;
    let opens = 0;
    const stop = new AbortController();
    const watching = watchEngineEvents({
      open: async () => {
        opens++;
        // The second open fails, as when the engine is still restarting: retried with backoff.
        if (opens === 2) throw new Error('connect ECONNREFUSED');
        const s = new PassThrough();
        streams.push(s);
        return s;
      },
      onEvent: (e) => events.push(e),
      onReconnect: () => reconnects++,
      logger: silentLogger(),
      signal: stop.signal,
      retryBaseMs: 5,
      retryCapMs: 20,
    });
    const waitFor = async (cond: () => boolean): Promise<void> => {
      for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
      expect(cond()).toBe(true);
    };
    await waitFor(() => streams.length === 1);
    const die = line('die');
    streams[0]?.write(die.slice(0, 20));
    streams[0]?.write(die.slice(20) + line('destroy'));
    await waitFor(() => events.length === 2);
    expect(reconnects).toBe(0);

    streams[0]?.end();
    await waitFor(() => streams.length === 2);
    expect(opens).toBe(3);
    expect(reconnects).toBe(1);
    streams[1]?.write(line('health_status: unhealthy', 'c2'));
    await waitFor(() => events.length === 3);
    expect(events.map((e) => `${e.action} ${e.containerId}`)).toEqual(['die c1', 'destroy c1', 'health_status: unhealthy c2']);

    stop.abort();
    await watching;
  });
});
