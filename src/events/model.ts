// What the daemon tells the outside world about deploys (issue 14 item 2):
// typed events, emitted from one place (./deploy-events.ts) and turned into
// commit statuses and notifications at the edge (src/notify/). Every event
// names the stack it concerns and, for deploys, the full sha deployed.

export type DeployEvent =
  /** A pass began applying `revision` to the stack. */
  | { kind: 'deploy.started'; stack: string; revision: string }
  /** The stack runs `revision` and every service is ready. */
  | { kind: 'deploy.converged'; stack: string; revision: string; message: string }
  /** Applying `revision` failed — an engine call, an image pull, or replicas that crash-loop or fail — and what ran before (if anything) keeps running. */
  | { kind: 'deploy.failed'; stack: string; revision: string; reason: string; cause: 'apply' | 'image-pull' | 'replicas' }
  /** `revision`'s manifests for the stack are invalid: nothing of it was applied, the last good revision keeps running. */
  | { kind: 'deploy.invalid'; stack: string; revision: string; reason: string }
  /** A rollout of `revision` failed and was rolled back to the previous spec. */
  | { kind: 'deploy.rolled-back'; stack: string; revision: string; reason: string }
  /** Capstan pushed `revert`, a revert commit of the failed `revision` (--auto-revert). */
  | { kind: 'deploy.auto-reverted'; stack: string; revision: string; revert: string; reason: string }
  /** A newer commit replaced `revision` before the stack converged to it. */
  | { kind: 'deploy.superseded'; stack: string; revision: string; by: string }
  | { kind: 'crash-loop.started'; stack: string; service: string; replica: string; exitCode: number | undefined; lastLogLines: readonly string[] }
  | { kind: 'crash-loop.ended'; stack: string; service: string; replica: string }
  /** x-capstan.image_update committed a newer tag (`commit` is the new commit's sha). */
  | { kind: 'image-update.committed'; stack: string; service: string; from: string; to: string; commit: string };

export type DeployEventKind = DeployEvent['kind'];

/** An event as sent: when and by which operator instance. */
export type StampedEvent = DeployEvent & { instance: string; at: string };

/** One line for logs and chat, e.g. `web: deploy of 3f9c2e1 failed: ...`. */
export function describeEvent(e: DeployEvent): string {
  switch (e.kind) {
    case 'deploy.started': return `${e.stack}: deploying ${short(e.revision)}`;
    case 'deploy.converged': return `${e.stack}: ${short(e.revision)} deployed (${e.message})`;
    case 'deploy.failed': return `${e.stack}: deploy of ${short(e.revision)} failed: ${e.reason}`;
    case 'deploy.invalid': return `${e.stack}: ${short(e.revision)} is invalid: ${e.reason}`;
    case 'deploy.rolled-back': return `${e.stack}: deploy of ${short(e.revision)} rolled back: ${e.reason}`;
    case 'deploy.auto-reverted': return `${e.stack}: ${short(e.revision)} auto-reverted by ${short(e.revert)}: ${e.reason}`;
    case 'deploy.superseded': return `${e.stack}: deploy of ${short(e.revision)} superseded by ${short(e.by)}`;
    case 'crash-loop.started': return `${e.stack}/${e.service}: ${e.replica} is crash-looping (exit code ${e.exitCode ?? '?'})`;
    case 'crash-loop.ended': return `${e.stack}/${e.service}: ${e.replica} is no longer crash-looping`;
    case 'image-update.committed': return `${e.stack}/${e.service}: image ${e.from} → ${e.to} committed as ${short(e.commit)}`;
  }
}

function short(sha: string): string {
  return sha.slice(0, 7);
}
