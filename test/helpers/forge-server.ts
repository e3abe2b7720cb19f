// A local stand-in for GitHub, GitLab and Gitea's commit status APIs and for
// Slack-compatible and generic webhooks. Each request is checked against the
// shape the provider documents (method, path, auth header, JSON body with
// the allowed states and fields); a request that breaks it is answered 422
// and recorded as a violation, so a test sees both.
//
// - GitHub "Create a commit status": POST /repos/{owner}/{repo}/statuses/{sha},
//   Authorization: Bearer|token <token>, Accept: application/vnd.github+json;
//   body { state: error|failure|pending|success (required), target_url?, description?, context? }.
// - GitLab "Set the pipeline status of a commit": POST /api/v4/projects/{id or URL-encoded path}/statuses/{sha},
//   PRIVATE-TOKEN: <token> (or Authorization: Bearer); body { state: pending|running|success|failed|canceled|skipped (required),
//   ref?, name? (or context?), target_url?, description?, coverage?, pipeline_id? }.
// - Gitea "Create a commit status": POST /api/v1/repos/{owner}/{repo}/statuses/{sha},
//   Authorization: token <token>; body CreateStatusOption { state: pending|success|error|failure|warning, target_url?, description?, context? }.
// - Slack incoming webhook: POST JSON with `text` (string) and/or `blocks`; answers 200 "ok".

import http from 'node:http';
import type net from 'node:net';

export interface ReceivedRequest {
  provider: 'github' | 'gitlab' | 'gitea' | 'slack' | 'webhook';
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown>;
  raw: string;
}

export interface ForgeServer {
  url: string;
  received: ReceivedRequest[];
  violations: string[];
  /** Answer the next `count` requests with `status` (e.g. 502 to exercise retries). */
  failNext(count: number, status: number): void;
  /** Resolves once `predicate` holds for the received requests. */
  waitFor(predicate: (received: readonly ReceivedRequest[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const SHA = '[0-9a-f]{40}';
const ROUTES: { provider: ReceivedRequest['provider']; path: RegExp; states?: readonly string[]; fields: readonly string[] }[] = [
  { provider: 'github', path: new RegExp(`^/github/repos/[^/]+/[^/]+/statuses/${SHA}$`), states: ['error', 'failure', 'pending', 'success'], fields: ['state', 'target_url', 'description', 'context'] },
  { provider: 'gitlab', path: new RegExp(`^/gitlab/api/v4/projects/[^/]+/statuses/${SHA}$`), states: ['pending', 'running', 'success', 'failed', 'canceled', 'skipped'], fields: ['state', 'ref', 'name', 'context', 'target_url', 'description', 'coverage', 'pipeline_id'] },
  { provider: 'gitea', path: new RegExp(`^/gitea/api/v1/repos/[^/]+/[^/]+/statuses/${SHA}$`), states: ['pending', 'success', 'error', 'failure', 'warning'], fields: ['state', 'target_url', 'description', 'context'] },
  { provider: 'slack', path: /^\/slack\/services\/[^/]+\/[^/]+\/[^/]+$/, fields: ['text', 'blocks', 'attachments', 'username', 'icon_emoji', 'channel'] },
  { provider: 'webhook', path: /^\/webhook$/, fields: [] },
];

export async function startForgeServer(token: string): Promise<ForgeServer> {
  const received: ReceivedRequest[] = [];
  const violations: string[] = [];
  const failures: number[] = [];
  const waiters: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString();
      const path = req.url ?? '';
      const route = ROUTES.find((r) => r.path.test(path));
      const problems: string[] = [];
      if (req.method !== 'POST') problems.push(`method ${req.method ?? ''}`);
      if (route === undefined) problems.push(`unknown path ${path}`);
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) problems.push(`content-type ${req.headers['content-type'] ?? 'none'}`);
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        problems.push('body is not JSON');
      }
      if (route !== undefined) problems.push(...checkShape(route, req.headers, body, token));
      const status = failures.shift();
      if (problems.length > 0) violations.push(`${path}: ${problems.join('; ')}`);
      else if (status === undefined && route !== undefined) received.push({ provider: route.provider, path, headers: req.headers, body, raw });
      for (const wake of waiters.splice(0)) wake();
      if (problems.length > 0) {
        res.writeHead(422, { 'content-type': 'application/json' }).end(JSON.stringify({ message: problems.join('; ') }));
      } else if (status !== undefined) {
        res.writeHead(status, { 'content-type': 'text/plain' }).end('try again later');
      } else if (route?.provider === 'slack') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      } else {
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ id: received.length, ...body }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    violations,
    failNext(count, status) {
      for (let i = 0; i < count; i++) failures.push(status);
    },
    async waitFor(predicate, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) throw new Error(`timed out; received ${JSON.stringify(received.map((r) => [r.provider, r.body]))}; violations ${JSON.stringify(violations)}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
    },
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function checkShape(route: (typeof ROUTES)[number], headers: http.IncomingHttpHeaders, body: Record<string, unknown>, token: string): string[] {
  const problems: string[] = [];
  const unknown = Object.keys(body).filter((k) => route.fields.length > 0 && !route.fields.includes(k));
  if (unknown.length > 0) problems.push(`fields the API does not take: ${unknown.join(', ')}`);
  if (route.states !== undefined && (typeof body['state'] !== 'string' || !route.states.includes(body['state']))) problems.push(`state ${JSON.stringify(body['state'])} is not one of ${route.states.join('|')}`);
  for (const k of ['description', 'context', 'name', 'target_url', 'ref']) {
    if (body[k] !== undefined && typeof body[k] !== 'string') problems.push(`${k} is not a string`);
  }
  const auth = headers.authorization ?? '';
  switch (route.provider) {
    case 'github':
      if (auth !== `Bearer ${token}` && auth !== `token ${token}`) problems.push('no GitHub token in Authorization');
      if (headers.accept !== 'application/vnd.github+json') problems.push(`accept ${headers.accept ?? 'none'}`);
      if (typeof body['description'] === 'string' && body['description'].length > 140) problems.push('description over 140 characters');
      break;
    case 'gitlab':
      if (headers['private-token'] !== token && auth !== `Bearer ${token}`) problems.push('no GitLab token in PRIVATE-TOKEN');
      break;
    case 'gitea':
      if (auth !== `token ${token}`) problems.push('no Gitea token in Authorization');
      break;
    case 'slack':
      if (typeof body['text'] !== 'string' && !Array.isArray(body['blocks'])) problems.push('neither text nor blocks');
      break;
    case 'webhook':
      break;
  }
  return problems;
}
