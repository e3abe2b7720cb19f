// The engine's events stream, filtered to this instance's containers, as a
// source of "look again now" signals. It reconnects with backoff when the
// stream ends or the engine restarts; events missed while disconnected are
// not replayed, so every reconnect asks for a full pass instead.

import { doublingDelayMs } from '../../backoff.js';
import type { Logger } from '../../logging/logger.js';
import { LABEL, ROUTER_ROLE } from '../../desired/labels.js';
import { connectDocker, resolveEndpoint } from './connect.js';

/**
 * The actions that can leave a replica dead, stopped, missing or unhealthy.
 * `kill` is left out: it comes before the `die` it causes, and a pass run on
 * it would still see the container running.
 */
export const HEALING_ACTIONS = ['die', 'destroy', 'stop', 'oom', 'health_status'] as const;

export interface EngineEvent {
  /** `die`, `destroy`, `health_status: unhealthy`, ... */
  action: string;
  containerId: string;
  name: string;
  stack: string;
  service: string;
  /** From `die` events. */
  exitCode: number | undefined;
  /** ms since the epoch, from the engine. */
  time: number;
}

/** Opens one events stream; it ends when the engine goes away. */
export type EventStreamOpener = () => Promise<NodeJS.ReadableStream>;

export interface WatchOptions {
  open: EventStreamOpener;
  onEvent: (event: EngineEvent) => void;
  /** After a reconnect (not the first connect): events may have been missed. */
  onReconnect: () => void;
  /** The stream ended: the engine went away or restarted, and nothing is watched until it is back. */
  onLost?: () => void;
  logger: Logger;
  signal: AbortSignal;
  /** Reconnect delay: base doubling to cap, reset once a connection is up. */
  retryBaseMs?: number;
  retryCapMs?: number;
  /** How a line of the stream becomes an event (default: container events, parseEvent). */
  parse?: (line: string) => EngineEvent | undefined;
}

export function dockerEventsOpener(instance: string): EventStreamOpener {
  let client: Promise<Awaited<ReturnType<typeof connectDocker>>['docker']> | undefined;
  return async () => {
    client ??= connectDocker(resolveEndpoint()).then((c) => c.docker);
    const docker = await client;
    return docker.getEvents({ filters: { type: ['container'], label: [`${LABEL.instance}=${instance}`], event: [...HEALING_ACTIONS] } });
  };
}

/** Runs until `signal` aborts. Never throws: a broken stream is retried. */
export async function watchEngineEvents(opts: WatchOptions): Promise<void> {
  const base = opts.retryBaseMs ?? 500;
  const cap = opts.retryCapMs ?? 30_000;
  let failures = 0;
  let connectedBefore = false;
  while (!opts.signal.aborted) {
    let stream: NodeJS.ReadableStream | undefined;
    try {
      stream = await opts.open();
    } catch (err) {
      // Said once per outage: the engine being gone is one fact, not one per retry.
      const message = err instanceof Error ? err.message : String(err);
      if (failures === 0) opts.logger.warn({ err: message }, `cannot open the Docker events stream (${message}); retrying until it opens`);
      else opts.logger.debug({ err: message }, 'the Docker events stream still cannot be opened');
    }
    if (stream !== undefined) {
      failures = 0;
      if (connectedBefore) {
        opts.logger.info('Docker events stream reconnected; resyncing');
        opts.onReconnect();
      }
      connectedBefore = true;
      await consume(stream, opts);
      if (opts.signal.aborted) break;
      opts.logger.warn('Docker events stream ended; reconnecting');
      opts.onLost?.();
    }
    failures++;
    await sleep(doublingDelayMs(failures, base, cap), opts.signal);
  }
}

/** Reads newline-separated JSON until the stream ends, errors, or the signal aborts. */
function consume(stream: NodeJS.ReadableStream, opts: WatchOptions): Promise<void> {
  return new Promise((resolve) => {
    let buffered = '';
    const finish = (): void => {
      opts.signal.removeEventListener('abort', onAbort);
      stream.removeListener('data', onData);
      resolve();
    };
    const onAbort = (): void => {
      (stream as { destroy?: () => void }).destroy?.();
      finish();
    };
    const onData = (chunk: Buffer | string): void => {
      buffered += chunk.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        const event = line === '' ? undefined : (opts.parse ?? parseEvent)(line);
        if (event !== undefined) opts.onEvent(event);
      }
    };
    // Aborted while the stream was being opened: no abort event will come any more.
    if (opts.signal.aborted) {
      onAbort();
      return;
    }
    opts.signal.addEventListener('abort', onAbort, { once: true });
    stream.on('data', onData);
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', (err: Error) => {
      opts.logger.debug({ err }, 'Docker events stream failed');
      finish();
    });
  });
}

export function parseEvent(line: string): EngineEvent | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const e = raw as { Type?: unknown; Action?: unknown; Actor?: { ID?: unknown; Attributes?: Record<string, unknown> }; timeNano?: unknown; time?: unknown };
  if (e.Type !== 'container' || typeof e.Action !== 'string' || typeof e.Actor?.ID !== 'string') return undefined;
  const attrs = e.Actor.Attributes ?? {};
  const text = (k: string): string => (typeof attrs[k] === 'string' ? (attrs[k] as string) : '');
  // The router container is no replica: its supervisor watches it, not the healer.
  if (text(LABEL.role) === ROUTER_ROLE) return undefined;
  const exit = Number.parseInt(text('exitCode'), 10);
  const time = typeof e.timeNano === 'number' ? Math.floor(e.timeNano / 1e6) : typeof e.time === 'number' ? e.time * 1000 : 0;
  return {
    action: e.Action,
    containerId: e.Actor.ID,
    name: text('name'),
    stack: text(LABEL.stack),
    service: text(LABEL.service),
    exitCode: Number.isNaN(exit) ? undefined : exit,
    time,
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
