// The dashboard's data feed: one place the daemon pushes what it knows
// (status after each pass, events, progress of long work, the last plan,
// traffic points) and every open page (GET /api/events, server-sent events)
// hears it. A page that connects first gets a `snapshot` of everything, then
// each change as its own event; so the interface to the page is these
// event names and their JSON, nothing else:
//
//   snapshot  { status, events[], progress[], plan, traffic[], commits{}, meta }
//   status    the /api/status document, with its `progress` section: rollouts as their lanes' step machines stand
//   event     OpsEvent (ops-events.ts)
//   progress  ProgressItem[]: the other long work in flight (builds, pulls)
//   plan      LastPlan: the operations of the newest pass that changed something
//   traffic   TrafficPoint[] (traffic.ts), one per service and version
//   commits   { <sha>: subject }: subjects of the revisions the stacks name
//
// Memory is bounded: the newest 200 events, 120 traffic samples.

import type { Progress } from '../../logging/progress.js';
import type { OpsEvent } from './ops-events.js';
import type { TrafficPoint } from './traffic.js';

export interface ProgressItem {
  key: string;
  text: string;
  fraction: number | null;
  /** Parsed from the key when it names one (`rollout web/api`, `build web-api:tag`). */
  stack: string | null;
  service: string | null;
  updatedAt: string;
}

export interface LastPlan {
  revision: string;
  at: string;
  operations: readonly { action: string; stack: string; service: string | null; target: string; cause: string }[];
}

export interface FeedMeta {
  /** The repository as shown to people (no credentials). */
  repo: string;
  /** A commit's web page with `{sha}` in it; null when there is none (a local path). */
  commitUrl: string | null;
}

/** GitHub, GitLab and Gitea all answer `<repo>/commit/<sha>`. */
export function commitUrlOf(repo: string): string | null {
  if (!/^https?:\/\//i.test(repo)) return null;
  return `${repo.replace(/\/+$/, '').replace(/\.git$/, '')}/commit/{sha}`;
}

export type FeedEvent = 'snapshot' | 'status' | 'event' | 'progress' | 'plan' | 'traffic' | 'commits';
export type Subscriber = (event: FeedEvent, data: unknown) => void;

const MAX_EVENTS = 200;
const ROLLOUT_KEY = /^(?:rollout|rollback|canary|blue-green) /;
const MAX_TRAFFIC_SAMPLES = 120;

export class DashboardFeed implements Progress {
  private readonly subscribers = new Set<Subscriber>();
  private status: unknown = null;
  private readonly events: OpsEvent[] = [];
  private readonly active = new Map<string, ProgressItem>();
  private plan: LastPlan | null = null;
  private readonly traffic: TrafficPoint[][] = [];
  private readonly commits = new Map<string, string>();

  constructor(private readonly meta: FeedMeta | null, private readonly now: () => number = Date.now) {}

  subscribe(fn: Subscriber): () => void {
    this.subscribers.add(fn);
    fn('snapshot', this.snapshot());
    return () => this.subscribers.delete(fn);
  }

  /** Open pages: the traffic sampler only runs while someone looks. */
  get watchers(): number {
    return this.subscribers.size;
  }

  snapshot(): { status: unknown; events: readonly OpsEvent[]; progress: readonly ProgressItem[]; plan: LastPlan | null; traffic: readonly TrafficPoint[]; commits: Record<string, string>; meta: FeedMeta | null } {
    return { status: this.status, events: this.events, progress: [...this.active.values()], plan: this.plan, traffic: this.traffic.flat(), commits: Object.fromEntries(this.commits), meta: this.meta };
  }

  setStatus(status: unknown): void {
    this.status = status;
    this.emit('status', status);
  }

  event(e: OpsEvent): void {
    this.events.push(e);
    if (this.events.length > MAX_EVENTS) this.events.splice(0, this.events.length - MAX_EVENTS);
    this.emit('event', e);
  }

  setPlan(plan: LastPlan): void {
    this.plan = plan;
    this.emit('plan', plan);
  }

  addTraffic(points: readonly TrafficPoint[]): void {
    if (points.length === 0) return;
    this.traffic.push([...points]);
    if (this.traffic.length > MAX_TRAFFIC_SAMPLES) this.traffic.shift();
    this.emit('traffic', points);
  }

  setCommits(subjects: ReadonlyMap<string, string>): void {
    const fresh = [...subjects].filter(([sha, subject]) => this.commits.get(sha) !== subject);
    if (fresh.length === 0) return;
    for (const [sha, subject] of fresh) this.commits.set(sha, subject);
    this.emit('commits', Object.fromEntries(fresh));
  }

  knowsCommit(sha: string): boolean {
    return this.commits.has(sha);
  }

  update(key: string, text: string, fraction?: number): void {
    // A rollout's progress is its persisted step (the status' `progress`, one source); its lines are for `apply`.
    if (ROLLOUT_KEY.test(key)) return;
    const [, stack = null, service = null] = /^(?:build|pull) ([^-]+)-([^:]+):/.exec(key) ?? [];
    this.active.set(key, { key, text, fraction: fraction ?? null, stack, service, updatedAt: new Date(this.now()).toISOString() });
    this.emit('progress', [...this.active.values()]);
  }

  done(key: string): void {
    if (!this.active.delete(key)) return;
    this.emit('progress', [...this.active.values()]);
  }

  private emit(event: FeedEvent, data: unknown): void {
    for (const fn of this.subscribers) fn(event, data);
  }
}
