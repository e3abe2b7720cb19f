// Webhook authentication and push-event reading for GitHub, GitLab, Gitea and
// a generic bearer hook. Every secret comparison is constant-time; a request
// that fails it triggers nothing. No I/O: the server hands in headers and the
// raw body exactly as received (HMACs are over the bytes, not parsed JSON).

import { safeEqual } from '../safe-equal.js';
import { createHmac } from 'node:crypto';
import { z } from 'zod';

export type HookFlavour = 'github' | 'gitlab' | 'gitea' | 'generic';
export const HOOK_FLAVOURS: readonly HookFlavour[] = ['github', 'gitlab', 'gitea', 'generic'];

export type Headers = Readonly<Record<string, string | string[] | undefined>>;

export type HookDecision =
  | { kind: 'unauthorized'; reason: string }
  | { kind: 'ignored'; reason: string }
  | { kind: 'trigger'; reason: string };

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function hmacHex(secret: string, body: Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

const pushBody = z.object({ ref: z.string() });

/** The pushed ref from a JSON body, or from GitHub's form encoding (`payload=<json>`). */
function pushedRef(body: Buffer, contentType: string | undefined): string | undefined {
  let text = body.toString('utf8');
  if (contentType?.startsWith('application/x-www-form-urlencoded')) text = new URLSearchParams(text).get('payload') ?? '';
  try {
    const parsed = pushBody.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data.ref : undefined;
  } catch {
    return undefined;
  }
}

function onBranch(ref: string | undefined, branch: string, source: string): HookDecision {
  if (ref === `refs/heads/${branch}`) return { kind: 'trigger', reason: `${source} push to ${branch}` };
  return { kind: 'ignored', reason: ref === undefined ? 'push event without a ref' : `push to ${ref}, following refs/heads/${branch}` };
}

/** Authenticates a hook request and decides whether it asks for a pass of `branch`. */
export function decideHook(flavour: HookFlavour, req: { headers: Headers; body: Buffer }, secret: string, branch: string): HookDecision {
  const { headers, body } = req;
  const contentType = header(headers, 'content-type');
  switch (flavour) {
    case 'github': {
      const sig = header(headers, 'x-hub-signature-256');
      if (sig === undefined || !safeEqual(sig, `sha256=${hmacHex(secret, body)}`)) return { kind: 'unauthorized', reason: 'X-Hub-Signature-256 is missing or does not match' };
      const event = header(headers, 'x-github-event');
      if (event !== 'push') return { kind: 'ignored', reason: `GitHub event ${event ?? '(none)'} is not a push` };
      return onBranch(pushedRef(body, contentType), branch, 'GitHub');
    }
    case 'gitlab': {
      const token = header(headers, 'x-gitlab-token');
      if (token === undefined || !safeEqual(token, secret)) return { kind: 'unauthorized', reason: 'X-Gitlab-Token is missing or does not match' };
      const event = header(headers, 'x-gitlab-event');
      if (event !== 'Push Hook') return { kind: 'ignored', reason: `GitLab event ${event ?? '(none)'} is not a Push Hook` };
      return onBranch(pushedRef(body, contentType), branch, 'GitLab');
    }
    case 'gitea': {
      const sig = header(headers, 'x-gitea-signature');
      if (sig === undefined || !safeEqual(sig.toLowerCase(), hmacHex(secret, body))) return { kind: 'unauthorized', reason: 'X-Gitea-Signature is missing or does not match' };
      const event = header(headers, 'x-gitea-event');
      if (event !== undefined && event !== 'push') return { kind: 'ignored', reason: `Gitea event ${event} is not a push` };
      return onBranch(pushedRef(body, contentType), branch, 'Gitea');
    }
    case 'generic':
      return bearerMatches(headers, secret)
        ? { kind: 'trigger', reason: 'generic hook' }
        : { kind: 'unauthorized', reason: 'Authorization: Bearer <secret> is missing or does not match' };
  }
}

export function bearerMatches(headers: Headers, secret: string): boolean {
  const auth = header(headers, 'authorization');
  const token = auth?.match(/^Bearer\s+(.+)$/i)?.[1];
  return token !== undefined && safeEqual(token, secret);
}
