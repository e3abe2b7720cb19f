// How apply/ tells the data plane about replicas it brings and takes away,
// so that no request meets a replica that is not ready or already stopping.
// The daemon implements it over the router's admin API; one-shot commands,
// and `--router none`, have no router to tell.

import type { TrafficSplit } from '../strategies/step.js';

export interface AdmittedReplica {
  containerId: string;
  name: string;
  stack: string;
  service: string;
  ip: string | undefined;
  /** The spec hash it runs: the router counts its requests under that version. */
  specHash: string;
}

export interface Traffic {
  /** The replica is ready: it takes requests from now on. */
  admit(replica: AdmittedReplica): Promise<void>;
  /** The replica takes no new requests; resolves once what it has in flight finished, or after `graceMs`. */
  retire(containerId: string, graceMs: number): Promise<void>;
  /** A start-first twin took its replica's name: routes follow the new name. */
  renamed(containerId: string, name: string): Promise<void>;
  /** How the router splits the service's requests between versions (a canary), or not at all. */
  split(stack: string, service: string, split: TrafficSplit | undefined): Promise<void>;
  /** In one routing table: `admit` take requests, `retire` take none; resolves once those finished what they had (bounded by `graceMs`). */
  switchOver(admit: readonly AdmittedReplica[], retire: readonly string[], graceMs: number): Promise<void>;
}

export const NO_TRAFFIC: Traffic = {
  admit: async () => undefined,
  retire: async () => undefined,
  renamed: async () => undefined,
  split: async () => undefined,
  switchOver: async () => undefined,
};
