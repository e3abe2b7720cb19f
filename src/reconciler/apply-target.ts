// What a `capstan apply` names (instance, repository, branch, path, backend),
// normalized so the daemon it asks can tell whether it follows the same: a
// daemon that does not answers 409 and the command applies by itself. Light
// on purpose: `capstan apply`'s quick path imports it before anything else.

import { posix } from 'node:path';
import type { ApplyTarget } from '../server/apply-api.js';
import { repoIdentity } from '../source/repo-identity.js';

export function applyTarget(raw: ApplyTarget, cwd: string): ApplyTarget {
  return { ...raw, repo: repoIdentity(raw.repo, cwd), path: posix.normalize(raw.path).replace(/\/+$/, '') };
}

/** Why a daemon following `own` must not apply for `asked`, or undefined when they name the same. */
export function targetMismatch(own: ApplyTarget, asked: ApplyTarget): string | undefined {
  for (const key of ['instance', 'repo', 'branch', 'path', 'backend'] as const) {
    if (own[key] !== asked[key]) return `the daemon follows ${key} ${own[key]}, not ${asked[key]}`;
  }
  return undefined;
}
