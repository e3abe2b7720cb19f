/// <reference lib="dom" />
// The dashboard page (browser side): listens to /api/events and redraws
// what changed, never reloading. Text goes in through textContent only,
// so nothing a manifest or a log line says can become markup. Built by
// scripts/build.mjs into dist/dashboard/app.js; no framework, no CDN.

import type { Deploy } from '../../../status/history.js';
import type { StackStatus } from '../../../status/model.js';
import { stepLine, type RolloutProgress } from '../../../strategies/step.js';
import type { LastPlan, ProgressItem } from '../feed.js';
import type { OpsEvent } from '../ops-events.js';
import type { TrafficPoint } from '../traffic.js';

interface Status {
  instance: string;
  branch: string;
  ready: boolean;
  lastSyncTime: string | null;
  /** The last lane pass (reconciler/daemon-state.ts LanePass). */
  lastPass: { stack: string; outcome: string; error: { message: string } | null } | null;
  stacks: StackStatus[];
  health: { stack: string; service: string; unhealthy: { replica: string; probe: string; output: string }[]; live: { message: string }; status: string }[];
  /** The rollouts in flight: each one's persisted step machine as its lane's last pass left it. */
  progress: RolloutProgress[];
}

interface Meta {
  repo: string;
  /** With `{sha}` in it; null when the repository has no web page (a local path). */
  commitUrl: string | null;
}

interface Snapshot {
  status: Status | null;
  events: OpsEvent[];
  progress: ProgressItem[];
  plan: LastPlan | null;
  traffic: TrafficPoint[];
  commits: Record<string, string>;
  meta: Meta | null;
}

const state: Snapshot = { status: null, events: [], progress: [], plan: null, traffic: [], commits: {}, meta: null };
const openHistories = new Set<string>();
/** Deploy histories read so far, by stack: cards are redrawn often (traffic every 2 s), histories fetched only when opened or after a deploy. */
const histories = new Map<string, readonly Deploy[] | string>();
const TRAFFIC_KEEP = 60;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

const byId = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;
const short = (sha: string | undefined | null): string => (sha ?? '').slice(0, 7) || '—';
const when = (iso: string): string => new Date(iso).toLocaleTimeString();

function revisionLink(sha: string | undefined): Node {
  if (sha === undefined) return h('span', { class: 'muted' }, 'no revision yet');
  const subject = state.commits[sha];
  const code = h('code', {}, short(sha));
  const url = state.meta?.commitUrl?.replace('{sha}', sha);
  const head = url === undefined ? code : h('a', { href: url, target: '_blank', rel: 'noopener' }, code);
  return h('span', { class: 'rev', 'data-revision': sha }, head, subject === undefined ? '' : ` ${subject}`);
}

function readyBadge(s: StackStatus): HTMLElement {
  const ready = s.conditions.find((c) => c.type === 'Ready');
  const degraded = s.conditions.some((c) => (c.type === 'Degraded' || c.type === 'Stalled') && c.status === 'True');
  const cls = ready?.status === 'True' ? 'ok' : degraded ? 'bad' : 'warn';
  return h('span', { class: `badge ${cls}`, 'data-ready': ready?.status ?? 'Unknown' }, ready?.status === 'True' ? 'Ready' : (ready?.reason ?? 'Unknown'));
}

function bar(key: string, label: string, fraction: number | null, attrs: Record<string, string> = {}): HTMLElement {
  const fill = h('div', { class: `bar${fraction === null ? ' indeterminate' : ''}` }, h('div', { style: `width:${Math.round((fraction ?? 0) * 100)}%` }));
  return h('div', { class: 'progress', 'data-progress': key, ...attrs }, h('div', { class: 'label' }, label), fill);
}

/** Rollouts as their lanes' persisted step machines stand (batch or canary step i of n, its phase); builds and pulls as they report. */
function progressFor(stack: string): HTMLElement[] {
  const rollouts = (state.status?.progress ?? []).filter((p) => p.stack === stack).map((p) => {
    const key = `${p.strategy !== 'rolling' ? p.strategy : p.direction === 'back' ? 'rollback' : 'rollout'} ${p.stack}/${p.service}`;
    // A canary is as far as its weight; otherwise the steps before this one are done, and this one counts once past its first phase.
    const done = p.strategy === 'canary' ? (p.weight ?? 0) / 100 : (p.batch - 1 + (p.phase === 'monitoring' || p.phase === 'retiring' ? 0.5 : 0)) / Math.max(1, p.batches);
    const label = `${key} to ${short(p.revision)}: ${stepLine(p)}${p.awaitingPromotion === true ? ', waiting for capstan promote' : ''}`;
    return bar(key, label, Math.min(1, done), { 'data-step': `${p.batch}/${p.batches}` });
  });
  const other = state.progress.filter((p) => p.stack === stack || (p.stack === null && p.key.includes(stack))).map((p) => bar(p.key, `${p.key}: ${p.text}`, p.fraction));
  return [...rollouts, ...other];
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** One line per version in one box; `series` as (time, value), all on one time axis and one scale. */
function sparklines(series: readonly { color: string; values: readonly (readonly [number, number | null])[] }[]): SVGElement {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('viewBox', '0 0 100 36');
  svg.setAttribute('preserveAspectRatio', 'none');
  const all = series.flatMap((s) => s.values);
  const times = all.map(([t]) => t);
  const from = Math.min(...times);
  const to = Math.max(...times);
  const max = Math.max(1e-9, ...all.map(([, v]) => v ?? 0));
  for (const s of series) svg.append(polyline(s.values, from, to, max, s.color));
  return svg;
}

function polyline(values: readonly (readonly [number, number | null])[], from: number, to: number, max: number, color: string): SVGElement {
  const points = values.map(([t, v]) => (v === null ? null : `${((t - from) / Math.max(1, to - from)) * 100},${34 - (v / max) * 32}`)).filter((p) => p !== null);
  const line = document.createElementNS(SVG_NS, 'polyline');
  line.setAttribute('points', points.join(' '));
  line.setAttribute('fill', 'none');
  line.setAttribute('stroke', color);
  line.setAttribute('stroke-width', '1.5');
  line.setAttribute('vector-effect', 'non-scaling-stroke');
  return line;
}

const COLORS = ['#2357c5', '#c2410c', '#15803d', '#7e22ce'];

function chartsFor(stack: string, service: string): HTMLElement | null {
  const points = state.traffic.filter((p) => p.stack === stack && p.service === service);
  if (points.length === 0) return null;
  const versions = [...new Set(points.map((p) => p.version))];
  const to = Math.max(...points.map((p) => Date.parse(p.time)));
  // The values shown are the newest sample's: a version that no longer gets traffic drops out of them.
  const newest = points.filter((p) => Date.parse(p.time) === to);
  const metrics: { title: string; pick: (p: TrafficPoint) => number | null; fmt: (v: number) => string }[] = [
    { title: 'requests/s', pick: (p) => p.rps, fmt: (v) => v.toFixed(1) },
    { title: 'errors', pick: (p) => (p.errorRate === null ? null : p.errorRate * 100), fmt: (v) => `${v.toFixed(1)}%` },
    { title: 'p95', pick: (p) => p.p95Ms, fmt: (v) => `${Math.round(v)} ms` },
  ];
  const charts = metrics.map((m) => {
    const box = h('div', { class: 'chart', 'data-chart': `${stack}/${service}/${m.title}` }, h('div', { class: 'title' }, m.title));
    const shown = newest.map((p) => [p.version, m.pick(p)] as const).filter((x): x is readonly [string, number] => x[1] !== null);
    box.append(h('div', { class: 'value' }, shown.length === 0 ? '—' : shown.map(([v, x]) => (newest.length > 1 ? `${m.fmt(x)} (${v})` : m.fmt(x))).join(' · ')));
    box.append(sparklines(versions.map((v, i) => ({ color: COLORS[i % COLORS.length] ?? '#000', values: points.filter((p) => p.version === v).slice(-TRAFFIC_KEEP).map((p) => [Date.parse(p.time), m.pick(p)] as const) }))));
    return box;
  });
  const legend = h('div', { class: 'legend' }, ...versions.map((v, i) => h('span', { style: `color:${COLORS[i % COLORS.length] ?? '#000'}` }, `■ ${v}`)));
  return h('div', {}, h('div', { class: 'charts' }, ...charts), versions.length > 1 ? legend : null);
}

function historyTable(deploys: readonly Deploy[]): HTMLElement {
  if (deploys.length === 0) return h('p', { class: 'muted' }, 'No deploys recorded on the status branch yet.');
  const rows = deploys.map((d) => h('tr', { 'data-deploy': d.revision },
    h('td', {}, when(d.startedAt)), h('td', {}, revisionLink(d.revision)), h('td', { class: `outcome-${d.outcome}` }, d.outcome),
    h('td', { class: 'num' }, d.durationSeconds === null ? '—' : `${Math.round(d.durationSeconds)} s`), h('td', { class: 'muted' }, d.message)));
  return h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'started'), h('th', {}, 'revision'), h('th', {}, 'outcome'), h('th', {}, 'took'), h('th', {}, 'why'))), h('tbody', {}, ...rows));
}

async function loadHistory(stack: string): Promise<void> {
  try {
    const res = await fetch(`/api/history/${encodeURIComponent(stack)}`);
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    histories.set(stack, (await res.json()) as Deploy[]);
  } catch (err) {
    histories.set(stack, `cannot read the history: ${err instanceof Error ? err.message : String(err)}`);
  }
  renderStacks();
}

function historyBody(stack: string): HTMLElement {
  const known = histories.get(stack);
  if (known === undefined) return h('p', { class: 'muted' }, 'Loading…');
  return typeof known === 'string' ? h('p', { class: 'problem' }, known) : historyTable(known);
}

function stackCard(s: StackStatus): HTMLElement {
  const health = state.status?.health.filter((x) => x.stack === s.stack) ?? [];
  const conditions = h('ul', { class: 'conditions' }, ...s.conditions.map((c) => h('li', { class: `${c.status} ${c.type}` }, h('span', { class: 'type' }, `${c.type} ${c.status}`), ` ${c.reason}: ${c.message}`)));
  const rows = Object.entries(s.services).map(([name, svc]) => {
    const live = health.find((x) => x.service === name);
    const problems = [...(svc.unhealthy ?? []).map((u) => `${u.replica} fails ${u.probe}: ${u.output}`), ...(svc.crashLoop === undefined ? [] : [live?.live.message ?? `${svc.crashLoop.replica} is crash-looping`])];
    return h('tr', { 'data-service': name },
      h('td', {}, name, ...problems.map((p) => h('div', { class: 'problem' }, p))),
      h('td', { class: 'num' }, String(svc.replicas.desired)), h('td', { class: 'num' }, String(svc.replicas.running)), h('td', { class: 'num' }, String(svc.replicas.ready)),
      h('td', { class: 'muted' }, svc.image));
  });
  const services = h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, 'service'), h('th', {}, 'desired'), h('th', {}, 'running'), h('th', {}, 'ready'), h('th', {}, 'image'))), h('tbody', {}, ...rows));
  const charts = Object.keys(s.services).map((name) => {
    const c = chartsFor(s.stack, name);
    return c === null ? null : h('div', {}, h('h3', {}, `${name} traffic`), c);
  });
  const history = h('details', { 'data-history': s.stack }, h('summary', {}, 'Deploy history'), historyBody(s.stack));
  if (openHistories.has(s.stack)) history.setAttribute('open', '');
  history.addEventListener('toggle', () => {
    const open = (history as HTMLDetailsElement).open;
    if (open === openHistories.has(s.stack)) return;
    if (open) {
      openHistories.add(s.stack);
      void loadHistory(s.stack);
    } else openHistories.delete(s.stack);
  });
  return h('article', { class: 'stack', 'data-stack': s.stack },
    h('div', { class: 'stack-head' }, h('h2', {}, s.stack), readyBadge(s), revisionLink(s.lastAppliedRevision)),
    s.lastAttemptedRevision !== undefined && s.lastAttemptedRevision !== s.lastAppliedRevision ? h('div', { class: 'muted' }, 'attempting ', revisionLink(s.lastAttemptedRevision)) : null,
    conditions, ...progressFor(s.stack), services, ...charts, history);
}

function renderStacks(): void {
  const status = state.status;
  const root = byId('stacks');
  if (status === null) return;
  byId('meta').textContent = `instance ${status.instance} · branch ${status.branch}${state.meta === null ? '' : ` of ${state.meta.repo}`}${status.lastSyncTime === null ? '' : ` · last pass ${when(status.lastSyncTime)} (${status.lastPass === null ? '?' : `${status.lastPass.stack}: ${status.lastPass.outcome}`})`}`;
  const error = status.lastPass?.error;
  const cards = status.stacks.map(stackCard);
  root.replaceChildren(...(error === null || error === undefined ? [] : [h('section', { class: 'card problem', id: 'pass-error' }, `Last pass failed: ${error.message}`)]), ...(cards.length === 0 ? [h('p', { class: 'muted' }, 'No stacks.')] : cards));
}

function renderEvents(): void {
  const list = byId('events');
  if (state.events.length === 0) return;
  list.replaceChildren(...[...state.events].reverse().slice(0, 100).map((e) => h('li', { class: e.bad ? 'bad' : 'good', 'data-kind': e.kind },
    h('time', {}, when(e.time)), h('span', { class: 'kind' }, e.kind), e.stack === undefined ? '' : `${e.stack}${e.service === undefined ? '' : `/${e.service}`}: `, e.message)));
}

function renderPlan(): void {
  const plan = state.plan;
  if (plan === null) return;
  const ops = plan.operations.map((o) => h('li', {}, `${o.action} ${o.target}: ${o.cause}`));
  byId('plan').replaceChildren(h('div', { class: 'muted' }, `${plan.operations.length} operation${plan.operations.length === 1 ? '' : 's'} for `, revisionLink(plan.revision), ` at ${when(plan.at)}`), h('ul', {}, ...ops));
}

function connect(): void {
  const live = byId('live');
  const source = new EventSource('/api/events');
  const on = <T>(name: string, fn: (data: T) => void): void => source.addEventListener(name, (e) => fn(JSON.parse((e as MessageEvent<string>).data) as T));
  source.onopen = () => {
    live.textContent = 'live';
    live.className = 'live on';
  };
  source.onerror = () => {
    live.textContent = 'reconnecting';
    live.className = 'live off';
    // A 401 (the cookie expired or the token changed) cannot be seen from EventSource: ask once, and go to the login form.
    void fetch('/api/status').then((r) => {
      if (r.status === 401) location.assign('/');
    }, () => undefined);
  };
  on<Snapshot>('snapshot', (s) => {
    Object.assign(state, s);
    renderStacks();
    renderEvents();
    renderPlan();
  });
  on<Status>('status', (s) => {
    state.status = s;
    renderStacks();
  });
  on<OpsEvent>('event', (e) => {
    state.events.push(e);
    renderEvents();
    // A deploy or rollback adds a row to the history: read it again (now if it is open, else when it is opened).
    if (e.stack !== undefined && ['deployed', 'rolled-back', 'deploy-failed', 'pull-failed', 'invalid'].includes(e.kind)) {
      histories.delete(e.stack);
      if (openHistories.has(e.stack)) void loadHistory(e.stack);
    }
  });
  on<ProgressItem[]>('progress', (p) => {
    state.progress = p;
    renderStacks();
  });
  on<LastPlan>('plan', (p) => {
    state.plan = p;
    renderPlan();
  });
  on<TrafficPoint[]>('traffic', (points) => {
    state.traffic.push(...points);
    const keep = TRAFFIC_KEEP * Math.max(1, new Set(state.traffic.map((p) => `${p.stack}/${p.service}@${p.version}`)).size);
    if (state.traffic.length > keep) state.traffic.splice(0, state.traffic.length - keep);
    renderStacks();
  });
  on<Record<string, string>>('commits', (c) => {
    Object.assign(state.commits, c);
    renderStacks();
    renderPlan();
  });
}

byId('logout').addEventListener('click', () => {
  void fetch('/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).finally(() => location.assign('/'));
});
connect();
