// The daemon's autoscaler (DESIGN §6 "Scaling"): for each service with
// x-capstan.autoscale it samples the load — requests per second from the
// router's counters of the service's routes, or CPU from the engine's stats —
// and asks the HPA decision (strategies/autoscale.ts) for a count. A new
// count wakes the stack's lane, whose next pass plans with it (scaling goes
// through the normal create and drain paths). Git holds the bounds; the
// count lives here, in /api/status and in the metrics, never in Git. After a
// restart it starts from the replicas that run, not from deploy.replicas.

import type { Logger } from '../logging/logger.js';
import type { AutoscaleSpec } from '../manifests/model.js';
import { decide, startAutoscale, type AutoscaleDecision, type AutoscaleState } from '../strategies/autoscale.js';
import type { Timers } from './lanes.js';

export interface LoadSource {
  /** Cumulative requests of the service's routes (every version); undefined when the router cannot be asked. */
  requests(stack: string, service: string): Promise<number | undefined>;
  /** CPU percent (of one CPU, as `docker stats` shows) averaged over the service's running replicas. */
  cpu(stack: string, service: string): Promise<number | undefined>;
}

/** What /api/status shows of an autoscaled service. */
export interface AutoscaleInfo {
  stack: string;
  service: string;
  replicas: number;
  min: number;
  max: number;
  metric: 'rps' | 'cpu';
  /** Last sample per replica, and its target. */
  perReplica: number | undefined;
  target: number;
  /** A bound that has held the count for longer than the cooldown. */
  limited: { bound: 'min' | 'max'; wanted: number } | undefined;
}

interface Entry {
  stack: string;
  service: string;
  spec: AutoscaleSpec;
  state: AutoscaleState;
  last: AutoscaleDecision | undefined;
  /** The previous request count and when it was read (rps is their slope). */
  previous: { requests: number; at: number } | undefined;
  nextAt: number;
}

/** How often a service is sampled: six samples per cooldown, between 1 s and 15 s (the HPA's sync period). */
export function samplePeriod(spec: AutoscaleSpec): number {
  return Math.min(15_000, Math.max(1000, Math.floor(spec.cooldownMs / 6)));
}

export class Autoscaler {
  private readonly entries = new Map<string, Entry>();
  private timer: unknown;
  private sampling = false;

  constructor(private readonly opts: { load: LoadSource; wake: (stack: string, reason: string) => void; timers: Timers; logger: Logger; tickMs?: number }) {}

  /**
   * A lane pass tells which of its services autoscale and how many replicas
   * run; the count to plan with comes back (undefined: not autoscaled).
   */
  plan(stack: string, services: readonly { name: string; spec: AutoscaleSpec | undefined; running: number; starting: number }[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const key of [...this.entries.keys()]) if (key.startsWith(`${stack}/`) && !services.some((s) => s.spec !== undefined && key === `${stack}/${s.name}`)) this.entries.delete(key);
    for (const s of services) {
      if (s.spec === undefined) continue;
      const key = `${stack}/${s.name}`;
      let e = this.entries.get(key);
      if (e === undefined || JSON.stringify(e.spec) !== JSON.stringify(s.spec)) {
        const state = e === undefined ? startAutoscale(s.spec, s.running > 0 ? s.running : s.starting) : { ...e.state, replicas: Math.min(s.spec.max, Math.max(s.spec.min, e.state.replicas)) };
        e = { stack, service: s.name, spec: s.spec, state, last: undefined, previous: undefined, nextAt: this.opts.timers.now() };
        this.entries.set(key, e);
      }
      out.set(s.name, e.state.replicas);
    }
    this.ensureTimer();
    return out;
  }

  info(): AutoscaleInfo[] {
    return [...this.entries.values()].map((e) => ({
      stack: e.stack, service: e.service, replicas: e.state.replicas, min: e.spec.min, max: e.spec.max, metric: e.spec.target.kind,
      perReplica: e.last === undefined ? undefined : Math.round(e.last.metric * 100) / 100,
      target: e.spec.target.kind === 'rps' ? e.spec.target.perReplica : e.spec.target.percent,
      limited: e.last?.limitedFor === undefined ? undefined : { bound: e.last.limitedFor.bound, wanted: e.last.limitedFor.wanted },
    })).sort((a, b) => (`${a.stack}/${a.service}` < `${b.stack}/${b.service}` ? -1 : 1));
  }

  stop(): void {
    if (this.timer !== undefined) this.opts.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.entries.clear();
  }

  private ensureTimer(): void {
    if (this.timer !== undefined || this.entries.size === 0) return;
    this.timer = this.opts.timers.setTimeout(() => {
      this.timer = undefined;
      void this.sample().finally(() => this.ensureTimer());
    }, this.opts.tickMs ?? 500);
  }

  private async sample(): Promise<void> {
    if (this.sampling) return;
    this.sampling = true;
    try {
      const now = this.opts.timers.now();
      for (const e of [...this.entries.values()].filter((x) => now >= x.nextAt)) {
        e.nextAt = now + samplePeriod(e.spec);
        const perReplica = await this.measure(e, now);
        if (perReplica === undefined || this.entries.get(`${e.stack}/${e.service}`) !== e) continue;
        const before = e.state.replicas;
        e.last = decide(e.spec, e.state, perReplica, now);
        e.state = e.last.state;
        if (e.state.replicas !== before) {
          const unit = e.spec.target.kind === 'rps' ? 'requests/s' : '% CPU';
          this.opts.logger.info({ stack: e.stack, service: e.service, from: before, to: e.state.replicas, perReplica: e.last.metric, target: e.last.target }, `autoscale ${e.stack}/${e.service}: ${before} → ${e.state.replicas} replicas (${Math.round(e.last.metric)} ${unit} per replica, target ${e.last.target})`);
          this.opts.wake(e.stack, `autoscale ${e.service} to ${e.state.replicas}`);
        }
      }
    } finally {
      this.sampling = false;
    }
  }

  private async measure(e: Entry, now: number): Promise<number | undefined> {
    const replicas = Math.max(1, e.state.replicas);
    if (e.spec.target.kind === 'cpu') {
      const cpu = await this.opts.load.cpu(e.stack, e.service).catch(() => undefined);
      return cpu;
    }
    const requests = await this.opts.load.requests(e.stack, e.service).catch(() => undefined);
    if (requests === undefined) return undefined;
    const previous = e.previous;
    e.previous = { requests, at: now };
    // A first reading, or counters that went down (a restarted router), only set the baseline.
    if (previous === undefined || requests < previous.requests || now <= previous.at) return undefined;
    return (requests - previous.requests) / ((now - previous.at) / 1000) / replicas;
  }
}
