// Engine calls have no deadline of their own, on purpose: a stop waits out
// the replica's grace period, a create can take seconds on a loaded host, and
// a socket timeout would cut the idle events stream. What must not happen is
// a call waiting forever on an engine that went away without closing the
// connection (a dockerd that hangs or is shutting down, a host gone from the
// network): the lane would never fail its pass, status would never say so.
// So a call in flight for longer than `suspectAfterMs` makes the watchdog ask
// the engine's /_ping, with a deadline; an engine that answers is working and
// the call goes on (asked again while it lasts). One that refuses or stays
// silent is gone: every call in flight fails with DockerUnavailableError and
// the lanes retry with their backoff. While the engine is gone, a new call is
// checked at once rather than after `suspectAfterMs`. Streams (events, logs,
// pulls) are watched until their answer's headers only.

import type Docker from 'dockerode';
import type { DialOptions, RequestCallback } from 'docker-modem';
import { DockerUnavailableError } from '../../errors.js';

export interface WatchdogOptions {
  /** A call in flight this long makes the watchdog ping the engine. */
  suspectAfterMs?: number;
  /** The engine must answer /_ping within this long. */
  pingTimeoutMs?: number;
}

/** Generous: a loaded engine on two cores answers /_ping in milliseconds, and a slow call only costs a ping. */
const SUSPECT_AFTER_MS = 10_000;
const PING_TIMEOUT_MS = 10_000;

interface InFlight {
  started: number;
  controller: AbortController;
}

/** Makes every call `docker` dials fail with DockerUnavailableError once the engine no longer answers (see above). */
export function guardEngineCalls(docker: Docker, endpoint: string, opts: WatchdogOptions = {}): void {
  const suspectMs = opts.suspectAfterMs ?? SUSPECT_AFTER_MS;
  const pingMs = opts.pingTimeoutMs ?? PING_TIMEOUT_MS;
  const modem = docker.modem;
  const dial = modem.dial.bind(modem);
  const inFlight = new Set<InFlight>();
  let timer: NodeJS.Timeout | undefined;
  let pinging = false;
  /** The last ping found the engine gone: new calls are checked at once. */
  let gone = false;

  const ping = (): Promise<string | undefined> => new Promise((resolve) => {
    const signal = AbortSignal.timeout(pingMs);
    // Any HTTP answer, even an error status, is an engine at work.
    dial({ path: '/_ping', method: 'GET', statusCodes: { 200: true, 500: true, 503: true }, abortSignal: signal }, (err) => {
      if (err === null) return resolve(undefined);
      resolve(signal.aborted ? `no answer to /_ping within ${pingMs / 1000} s` : err.message);
    });
  });

  const schedule = (at: number): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => void check(), Math.max(0, at - Date.now()));
    // A watchdog never keeps the process alive.
    timer.unref();
  };

  const check = async (): Promise<void> => {
    timer = undefined;
    if (pinging || inFlight.size === 0) return;
    const now = Date.now();
    const oldest = Math.min(...[...inFlight].map((c) => c.started));
    if (!gone && now - oldest < suspectMs) return schedule(oldest + suspectMs);
    pinging = true;
    const asked = new Set(inFlight);
    const failure = await ping();
    pinging = false;
    gone = failure !== undefined;
    if (failure !== undefined) {
      const reason = new DockerUnavailableError(endpoint, new Error(`the engine stopped answering: ${failure}`));
      for (const call of asked) call.controller.abort(reason);
    }
    if (inFlight.size > 0) schedule(gone ? Date.now() : Date.now() + suspectMs);
  };

  modem.dial = (options: DialOptions, callback?: RequestCallback): void => {
    const call: InFlight = { started: Date.now(), controller: new AbortController() };
    const own = options.abortSignal;
    const signal = own === undefined ? call.controller.signal : AbortSignal.any([own, call.controller.signal]);
    inFlight.add(call);
    if (gone) schedule(Date.now());
    else if (timer === undefined) schedule(call.started + suspectMs);
    dial({ ...options, abortSignal: signal }, (err, result) => {
      inFlight.delete(call);
      // Cut short here: the engine's absence is the error, not the abort.
      const reason: unknown = call.controller.signal.reason;
      if (err !== null && reason instanceof DockerUnavailableError) return callback?.(reason, null);
      callback?.(err, result);
    });
  };
}
