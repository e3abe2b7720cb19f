// The router's Prometheus text (GET /metrics on its admin API, and appended
// to the daemon's /metrics): per-route, per-version requests, errors and
// latency, per-backend traffic and ejections, and what the edge limits did.
// Written by hand: the data plane loads no metrics library.

import type { BackendStats, EdgeStats } from './router.js';
import type { RouteVersionStats } from './route-stats.js';

/** A label value escaped as the exposition format wants it. */
function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labels(pairs: Record<string, string>): string {
  return `{${Object.entries(pairs).map(([k, v]) => `${k}="${label(v)}"`).join(',')}}`;
}

export function renderRouterMetrics(routes: readonly RouteVersionStats[], backends: readonly BackendStats[], edge: EdgeStats): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  family('capstan_router_route_requests_total', 'counter', 'Requests answered per L7 route and version (spec hash, slot), plus connect attempts a replica of that version refused');
  for (const r of routes) out.push(`capstan_router_route_requests_total${labels({ route: r.route, version: r.version, slot: r.slot })} ${r.requests}`);
  family('capstan_router_route_errors_total', 'counter', 'Answers with a 5xx status and refused connects, per L7 route and version');
  for (const r of routes) out.push(`capstan_router_route_errors_total${labels({ route: r.route, version: r.version, slot: r.slot })} ${r.errors}`);
  family('capstan_router_route_request_duration_seconds', 'histogram', 'From a request head read to its answer sent, per L7 route and version');
  for (const r of routes) {
    const base = { route: r.route, version: r.version, slot: r.slot };
    for (const b of r.latency.buckets) out.push(`capstan_router_route_request_duration_seconds_bucket${labels({ ...base, le: String(b.le) })} ${b.count}`);
    out.push(`capstan_router_route_request_duration_seconds_sum${labels(base)} ${r.latency.sumSeconds}`);
    out.push(`capstan_router_route_request_duration_seconds_count${labels(base)} ${r.latency.count}`);
  }
  family('capstan_router_backend_requests_total', 'counter', 'Requests and connections sent to each backend');
  for (const b of backends) out.push(`capstan_router_backend_requests_total${labels({ backend: b.id })} ${b.total}`);
  family('capstan_router_backend_errors_total', 'counter', 'Failed exchanges and refused connects per backend');
  for (const b of backends) out.push(`capstan_router_backend_errors_total${labels({ backend: b.id })} ${b.errors}`);
  family('capstan_router_backend_in_flight', 'gauge', 'Requests and connections in progress per backend');
  for (const b of backends) out.push(`capstan_router_backend_in_flight${labels({ backend: b.id })} ${b.inFlight}`);
  family('capstan_router_backend_ejected', 'gauge', '1 while a backend is out of rotation after a refused connect');
  for (const b of backends) out.push(`capstan_router_backend_ejected${labels({ backend: b.id })} ${b.ejected ? 1 : 0}`);
  family('capstan_router_backend_ejections_total', 'counter', 'Times a refused connect took a backend out of rotation');
  for (const b of backends) out.push(`capstan_router_backend_ejections_total${labels({ backend: b.id })} ${b.ejections}`);
  family('capstan_router_connections_open', 'gauge', 'Open client connections, all entries');
  out.push(`capstan_router_connections_open ${edge.open}`);
  family('capstan_router_connections_refused_total', 'counter', 'Client connections closed at accept because a cap was reached');
  out.push(`capstan_router_connections_refused_total${labels({ cap: 'global' })} ${edge.refusedGlobal}`);
  out.push(`capstan_router_connections_refused_total${labels({ cap: 'per_ip' })} ${edge.refusedPerIp}`);
  family('capstan_router_timeouts_total', 'counter', 'Client connections closed because what they waited on took too long');
  const timeouts: [string, number][] = [['head', edge.headTimeouts], ['body', edge.bodyTimeouts], ['keep_alive', edge.keepAliveTimeouts], ['tunnel', edge.tunnelTimeouts], ['l4_idle', edge.l4Timeouts]];
  for (const [kind, n] of timeouts) out.push(`capstan_router_timeouts_total${labels({ kind })} ${n}`);
  family('capstan_router_retries_total', 'counter', 'Requests sent to another replica after a refused connect');
  out.push(`capstan_router_retries_total ${edge.retries}`);
  return `${out.join('\n')}\n`;
}
