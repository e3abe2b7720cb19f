// What every strategy's step machine speaks (gitops-engine's sync context,
// STYLE 6 and 12): the driver in apply/ shows the machine what runs in each
// slot (a view built from the pass's snapshot), the machine answers with the
// next record, the engine and traffic calls of one step, and when it wants
// to be looked at again. The record is persisted after every step, so a
// kill -9 anywhere resumes from it. Machines are pure: time comes in as
// `now`, container ids come from the view.

import type { Readiness } from '../health/readiness.js';
import type { ServiceSpec } from '../manifests/model.js';

/**
 * What every strategy's record holds: which service it moves to which spec
 * (a newer spec or digest supersedes it), and what the slots ran before, the
 * place turning back returns to.
 */
export interface RecordBase {
  id: string;
  stack: string;
  service: string;
  revision: string;
  /** The spec hash this rollout moves the slots to (Git's, or what a held rollout restores). */
  targetHash: string;
  /** The repo digest a moving tag resolved to when it began (the spec hash stays the same). */
  targetDigest?: string | undefined;
  previous: { spec: ServiceSpec; specHash: string } | undefined;
}

/** One replica as the machine sees it. */
export interface ReplicaView {
  id: string;
  /** Runs the spec this rollout moves to. */
  onTarget: boolean;
  /** Made but never started (a crash between create and start). */
  created: boolean;
  readiness: Readiness;
  /**
   * Set when it stopped (exited or dead): whether its exit looks like a stop
   * rather than a crash, and the containers of the stack that ran since before
   * the rollout and stopped with it (health/stopped-together.ts).
   */
  stop?: { looksStopped: boolean; together: readonly string[] } | undefined;
}

/** A slot (replica number): its replica under its own name, a start-first (or blue-green) twin beside it, and canary number `number`. */
export interface SlotView {
  number: number;
  replica: ReplicaView | undefined;
  twin: ReplicaView | undefined;
  canary?: ReplicaView | undefined;
}

/** What a replica's io.capstan.slot label says it is: the live set, a blue-green set, or a canary. */
export type SlotLabel = 'stable' | 'blue' | 'green' | 'canary';

/** A service's traffic split while a canary runs: `weight` percent of its requests go to replicas of spec hash `version`, the rest to the others. */
export interface TrafficSplit {
  version: string;
  weight: number;
}

export type SlotViews = ReadonlyMap<number, SlotView>;

/**
 * One engine or traffic call. The driver runs a slot's actions in order and
 * stops that slot at the first one that fails (reported back with
 * `failSlot`); slots run side by side.
 */
export type RolloutAction =
  /** Build the image and read the secrets of the target before anything is stopped. */
  | { kind: 'prepare'; slot: number }
  /** A replica of the target: under the slot's own name, as its twin beside the running one, or as canary `slot`; labelled `label`. */
  | { kind: 'create'; slot: number; as: 'replica' | 'twin' | 'canary'; label?: SlotLabel }
  | { kind: 'start'; slot: number; id: string }
  /** Into the routing table. */
  | { kind: 'admit'; slot: number; id: string }
  /** Out of the routing table, once its in-flight requests finished (bounded by the grace period). */
  | { kind: 'drain'; slot: number; id: string }
  | { kind: 'remove'; slot: number; id: string }
  /** The twin takes the slot's own name. */
  | { kind: 'promote'; slot: number; id: string }
  /** Runs the probe once against the replica; failing fails the slot (blue-green's pre_switch). */
  | { kind: 'check'; slot: number; id: string }
  /**
   * Service-wide (slot 0, run after every slot's actions): the router's split
   * of the service's requests, or none; `switch` admits and drains sets of
   * replicas in one routing table (blue-green), then waits for the drained.
   */
  | { kind: 'split'; slot: 0; split: TrafficSplit | undefined }
  | { kind: 'switch'; slot: 0; admit: readonly { slot: number; id: string }[]; drain: readonly string[] };

/** What /api/status and the metrics show of a rollout in progress (never a status commit). */
export interface RolloutProgress {
  id: string;
  stack: string;
  service: string;
  strategy: string;
  revision: string;
  direction: 'forward' | 'back';
  /** 1-based batch being worked on, of `batches`. */
  batch: number;
  batches: number;
  phase: string;
  /** When this phase began, and when the machine wants its next step (ms since the epoch). */
  since: number;
  nextStepAt: number | undefined;
  /** Canary: the step (1-based, of `batches`), its weight, and the analysis so far. */
  weight?: number;
  analysis?: AnalysisProgress;
  /** Set while a step waits for `capstan promote`. */
  awaitingPromotion?: boolean;
}

/** Where a rollout stands, in a few words: `batch 2/3 monitoring`, `step 2/3 (50%) paused`, a blue-green's phase (`apply`'s lines, the dashboard's bars). */
export function stepLine(p: RolloutProgress): string {
  if (p.strategy === 'canary') return `step ${p.batch}/${p.batches} (${p.weight ?? 0}%) ${p.phase}`;
  if (p.strategy === 'blue-green') return p.phase;
  return `batch ${p.batch}/${p.batches} ${p.phase}`;
}

/** One evaluation of a canary's analysis, with the numbers it judged. */
export interface Evaluation {
  at: number;
  requests: number;
  errors: number;
  errorRate: number | undefined;
  p95Ms: number | undefined;
  prometheus: number | undefined;
  ok: boolean;
  /** Why it failed, in words with the numbers (`error rate 12.5 % > 1 % over 40 requests`). */
  reason: string | undefined;
}

export interface AnalysisProgress {
  evaluations: number;
  passed: number;
  last: Evaluation | undefined;
  /** Requests the canary answered in the window not yet judged (too few so far). */
  pending: number;
}
