// What every strategy's step machine speaks (gitops-engine's sync context,
// STYLE 6 and 12): the driver in apply/ shows the machine what runs in each
// slot (a view built from the pass's snapshot), the machine answers with the
// next record, the engine and traffic calls of one step, and when it wants
// to be looked at again. The record is persisted after every step, so a
// kill -9 anywhere resumes from it. Machines are pure: time comes in as
// `now`, container ids come from the view.

import type { Readiness } from '../health/readiness.js';

/** One replica as the machine sees it. */
export interface ReplicaView {
  id: string;
  /** Runs the spec this rollout moves to. */
  onTarget: boolean;
  /** Made but never started (a crash between create and start). */
  created: boolean;
  readiness: Readiness;
}

/** A slot (replica number): its replica under its own name, and a start-first twin beside it. */
export interface SlotView {
  number: number;
  replica: ReplicaView | undefined;
  twin: ReplicaView | undefined;
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
  /** A replica of the target; `twin`: under the slot's second name, beside the running one. */
  | { kind: 'create'; slot: number; twin: boolean }
  | { kind: 'start'; slot: number; id: string }
  /** Into the routing table. */
  | { kind: 'admit'; slot: number; id: string }
  /** Out of the routing table, once its in-flight requests finished (bounded by the grace period). */
  | { kind: 'drain'; slot: number; id: string }
  | { kind: 'remove'; slot: number; id: string }
  /** The twin takes the slot's own name. */
  | { kind: 'promote'; slot: number; id: string };

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
}
