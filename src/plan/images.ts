// The image half of the plan (DESIGN §2 "Images"), pure like the rest of
// the planner: which images to pull before the services that need them are
// (re)created — once per reference, however many services use it — and
// which replicas run another repo digest than their tag names now (digests
// are the truth: a moved tag rolls the service like any change).

import type { DesiredService } from '../desired/model.js';
import { specHash } from '../desired/spec-hash.js';
import { LABEL } from '../desired/labels.js';
import { parseImageRef, repoDigestOf, repositoryOf, shortDigest } from '../manifests/image-ref.js';
import type { ImageFacts, ObservedContainer } from '../observed/model.js';
import type { OperationDraft } from './operations.js';

/** Services whose image is built or unknown to this pass have no digest to compare. */
function registryImage(service: DesiredService): boolean {
  return service.spec.build === undefined && parseImageRef(service.spec.image) !== undefined;
}

/** The repo digest the service's replicas should run: pinned in Git, else the registry's (when looked up), else the engine's tag. */
export function wantedDigest(service: DesiredService, facts: ImageFacts | undefined): string | undefined {
  if (facts === undefined || !registryImage(service)) return undefined;
  const ref = parseImageRef(service.spec.image);
  if (ref === undefined) return undefined;
  if (ref.digest !== undefined) return ref.digest;
  const remote = facts.registry.get(service.spec.image);
  if (remote !== undefined) return remote;
  const engine = facts.engine.get(service.spec.image);
  return engine === undefined ? undefined : repoDigestOf(ref, engine.repoDigests);
}

/**
 * `image redis:7.4 moved: sha256:ab12… → sha256:cd34…` when the replica was
 * made from another digest than the one wanted; undefined otherwise (also
 * for replicas made before digests were recorded, which are left alone).
 */
export function digestMove(existing: ObservedContainer, service: DesiredService, facts: ImageFacts | undefined): { from: string; to: string; cause: string } | undefined {
  const from = existing.labels[LABEL.imageDigest];
  const to = wantedDigest(service, facts);
  if (from === undefined || from === '' || to === undefined || from === to) return undefined;
  return { from, to, cause: `image ${service.spec.image} moved: ${shortDigest(from)} → ${shortDigest(to)}` };
}

/** The spec a replica had before its tag moved, pinned to the digest it ran: where a failed roll goes back to. */
export function pinnedTo(service: DesiredService, digest: string): { spec: DesiredService['spec']; specHash: string } {
  const image = `${service.spec.image.replace(/@.*$/, '')}@${digest}`;
  const spec = { ...service.spec, image };
  return { spec, specHash: specHash(spec) };
}

/**
 * One `pull-image` operation per reference that (re)created replicas need
 * and the engine lacks, or whose tag the registry moved. `services` are the
 * desired services (for moved tags); the operations carry the ones being
 * (re)created in this plan.
 */
export function planPulls(services: readonly DesiredService[], operations: readonly OperationDraft[], facts: ImageFacts | undefined, phase: number): OperationDraft[] {
  if (facts === undefined) return [];
  const users = new Map<string, Set<string>>();
  const need = new Map<string, { why: string; moved: boolean }>();
  const use = (service: DesiredService): void => {
    const set = users.get(service.spec.image) ?? new Set<string>();
    set.add(`${service.stack}/${service.name}`);
    users.set(service.spec.image, set);
  };
  for (const op of operations) {
    if (op.kind !== 'create-container' && op.kind !== 'recreate-container') continue;
    const service = op.service;
    if (!registryImage(service) || !facts.engine.has(service.spec.image)) continue;
    use(service);
    if (facts.engine.get(service.spec.image) === undefined && service.spec.pullPolicy?.kind !== 'never') need.set(service.spec.image, { why: 'not on the engine', moved: false });
  }
  for (const service of services) {
    if (!registryImage(service)) continue;
    const ref = parseImageRef(service.spec.image);
    const remote = facts.registry.get(service.spec.image);
    const engine = facts.engine.get(service.spec.image);
    if (ref === undefined || remote === undefined || engine === undefined) continue;
    const local = repoDigestOf(ref, engine.repoDigests);
    if (local === remote) continue;
    use(service);
    need.set(service.spec.image, { why: local === undefined ? `${repositoryOf(ref)} has ${shortDigest(remote)}` : `tag moved: ${shortDigest(local)} → ${shortDigest(remote)}`, moved: local !== undefined });
  }
  return [...need].sort(([a], [b]) => a.localeCompare(b)).map(([image, { why, moved }]) => {
    const names = [...(users.get(image) ?? [])].sort();
    const stack = names[0]?.split('/')[0] ?? '';
    return { kind: 'pull-image', stack, image, services: names, phase, reason: moved ? 'image-moved' : 'image-missing', cause: `${why} (for ${names.join(', ')})` } satisfies OperationDraft;
  });
}
