// x-capstan's delivery and scaling keys (DESIGN §2): `canary`, `blue_green`
// and `autoscale`, folded into their typed specs with defaults, and the rules
// that need more than one key at once — a canary's last step is 100 %, a
// strategy's block goes with that strategy, analysis and request-rate
// targets need a route (the router's counters are per L7 route), autoscale
// names one target and its bounds hold deploy.replicas. Each problem names
// the exact key, with a fix.

import type { AnalysisSpec, AutoscaleSpec, BlueGreenSpec, CanarySpec, ProbeSpec } from './model.js';
import type { PathSegment } from './parse-yaml.js';
import type { FileProblems } from './problems.js';
import type { AutoscaleInput, BlueGreenInput, CanaryInput } from './schema.js';

export const DEFAULT_ANALYSIS_INTERVAL_MS = 10_000;
export const DEFAULT_MIN_REQUESTS = 20;
export const DEFAULT_SCALE_DOWN_DELAY_MS = 30_000;
export const DEFAULT_BLUE_GREEN_MONITOR_MS = 10_000;
export const DEFAULT_AUTOSCALE_COOLDOWN_MS = 60_000;

export interface DeliveryInput {
  strategy: 'rolling' | 'blue-green' | 'canary';
  canary: CanaryInput | undefined;
  blueGreen: BlueGreenInput | undefined;
  autoscale: AutoscaleInput | undefined;
  hasRoute: boolean;
  mode: 'replicated' | 'global';
  /** deploy.replicas as written (undefined when absent). */
  replicas: number | undefined;
}

export interface Delivery {
  canary?: CanarySpec;
  blueGreen?: BlueGreenSpec;
  autoscale?: AutoscaleSpec;
  /** The starting count: deploy.replicas, else autoscale's min. */
  replicas: number | undefined;
}

export function deliverySpecs(x: DeliveryInput, base: readonly PathSegment[], fp: FileProblems, preSwitch: (p: NonNullable<BlueGreenInput['pre_switch']>) => ProbeSpec | undefined): Delivery {
  const at = (...rest: PathSegment[]): PathSegment[] => [...base, 'x-capstan', ...rest];
  const out: Delivery = { replicas: x.replicas };

  if (x.strategy !== 'rolling' && x.mode === 'global') {
    fp.error(at('strategy'), `a global service cannot use strategy ${x.strategy}`, 'a global service runs one replica per node and updates like a rolling update with parallelism 1; remove `strategy`', 'value');
  }
  if (x.canary !== undefined && x.strategy !== 'canary') {
    fp.error(at('canary'), '`canary` is set but the strategy is not canary', 'add `strategy: canary` next to it, or remove `canary`', 'key');
  }
  if (x.blueGreen !== undefined && x.strategy !== 'blue-green') {
    fp.error(at('blue_green'), '`blue_green` is set but the strategy is not blue-green', 'add `strategy: blue-green` next to it, or remove `blue_green`', 'key');
  }

  if (x.strategy === 'canary') {
    if (x.canary === undefined) {
      fp.error(at('strategy'), '`strategy: canary` needs `canary: { steps: [...] }`', 'e.g. canary: { steps: [ { weight: 10, pause: 30s }, { weight: 100 } ] }', 'value');
    } else {
      out.canary = canarySpec(x.canary, at, x.hasRoute, fp);
    }
  }
  if (x.strategy === 'blue-green') {
    const bg = x.blueGreen;
    out.blueGreen = {
      scaleDownDelayMs: bg?.scale_down_delay ?? DEFAULT_SCALE_DOWN_DELAY_MS,
      monitorMs: bg?.monitor ?? DEFAULT_BLUE_GREEN_MONITOR_MS,
      preSwitch: bg?.pre_switch === undefined ? undefined : preSwitch(bg.pre_switch),
    };
  }

  const a = x.autoscale;
  if (a !== undefined) {
    const targets = [a.target_rps_per_replica, a.target_cpu_percent].filter((t) => t !== undefined).length;
    if (x.mode === 'global') fp.error(at('autoscale'), 'a global service cannot autoscale', 'a global service runs one replica per node; remove `autoscale` or `deploy.mode: global`', 'key');
    if (targets !== 1) {
      fp.error(at('autoscale'), targets === 0 ? 'autoscale needs a target' : 'autoscale takes one target, not both', 'set exactly one of `target_rps_per_replica` and `target_cpu_percent`', 'key');
    }
    if (a.min > a.max) fp.error(at('autoscale', 'min'), `autoscale.min ${a.min} is above autoscale.max ${a.max}`, 'make min ≤ max');
    if (a.target_rps_per_replica !== undefined && !x.hasRoute) {
      fp.error(at('autoscale', 'target_rps_per_replica'), 'a request-rate target needs `x-capstan.route`: the router counts requests per route', 'add `route: { path: / }` (or a host), or use `target_cpu_percent`', 'key');
    }
    if (x.replicas !== undefined && (x.replicas < a.min || x.replicas > a.max)) {
      fp.error([...base, 'deploy', 'replicas'], `deploy.replicas ${x.replicas} is outside autoscale's bounds ${a.min}-${a.max}`, 'deploy.replicas is the starting count: keep it between min and max, or remove it (min is used)');
    }
    const target: AutoscaleSpec['target'] = a.target_rps_per_replica !== undefined
      ? { kind: 'rps', perReplica: a.target_rps_per_replica }
      : { kind: 'cpu', percent: a.target_cpu_percent ?? 0 };
    out.autoscale = { min: a.min, max: a.max, target, cooldownMs: a.cooldown ?? DEFAULT_AUTOSCALE_COOLDOWN_MS };
    if (x.replicas === undefined) out.replicas = a.min;
  }
  return out;
}

function canarySpec(c: CanaryInput, at: (...rest: PathSegment[]) => PathSegment[], hasRoute: boolean, fp: FileProblems): CanarySpec {
  const steps = c.steps.map((s) => ({ weight: s.weight, pause: s.pause }));
  if (steps.length === 0) fp.error(at('canary', 'steps'), 'a canary needs at least one step', 'e.g. steps: [ { weight: 10, pause: 30s }, { weight: 100 } ]');
  const last = steps[steps.length - 1];
  if (last !== undefined && last.weight !== 100) {
    fp.error(at('canary', 'steps', steps.length - 1, 'weight'), `the last canary step must be weight: 100, not ${last.weight}`, 'end the steps with `{ weight: 100 }`: that step promotes the new version');
  }
  steps.forEach((s, i) => {
    const before = steps[i - 1];
    if (before !== undefined && s.weight <= before.weight) {
      fp.error(at('canary', 'steps', i, 'weight'), `canary weights go up: step ${i + 1} (${s.weight}) is not above step ${i} (${before.weight})`, 'order the steps by weight, ending with 100');
    }
  });
  let analysis: AnalysisSpec | undefined;
  const a = c.analysis;
  if (a !== undefined) {
    if (!hasRoute) fp.error(at('canary', 'analysis'), 'canary analysis needs `x-capstan.route`: it reads the router\'s per-route counters', 'add `route: { path: / }` (or a host) to x-capstan', 'key');
    if (a.max_error_rate === undefined && a.max_p95_ms === undefined && a.prometheus === undefined) {
      fp.error(at('canary', 'analysis'), 'analysis without a threshold judges nothing', 'set `max_error_rate` (e.g. 0.01), `max_p95_ms` or `prometheus: { url, query, max }`', 'key');
    }
    analysis = {
      intervalMs: a.interval ?? DEFAULT_ANALYSIS_INTERVAL_MS,
      maxErrorRate: a.max_error_rate,
      maxP95Ms: a.max_p95_ms,
      minRequests: a.min_requests ?? DEFAULT_MIN_REQUESTS,
      prometheus: a.prometheus,
    };
  }
  return { steps, analysis };
}
