// Commit statuses on GitHub, GitLab and Gitea: which forge a repository URL
// belongs to, and the one request each forge documents for "set the status
// of a commit". Pure: the outbox (./outbox.ts) sends what this builds.
//
// - GitHub  POST {api}/repos/{owner}/{repo}/statuses/{sha}
//           { state: pending|success|failure|error, target_url, description, context }
//           Authorization: Bearer <token>, Accept: application/vnd.github+json
// - GitLab  POST {api}/projects/{url-encoded path}/statuses/{sha}
//           { state: pending|running|success|failed|canceled, name, ref, target_url, description }
//           PRIVATE-TOKEN: <token>
// - Gitea   POST {api}/repos/{owner}/{repo}/statuses/{sha}
//           { state: pending|success|error|failure|warning, target_url, description, context }
//           Authorization: token <token>

export type ForgeKind = 'github' | 'gitlab' | 'gitea';

export interface Forge {
  kind: ForgeKind;
  /** API base, e.g. https://api.github.com, https://gitlab.example.com/api/v4, https://gitea.example.com/api/v1. */
  api: string;
  /** `owner/name` (GitLab: the full path, groups included). */
  repo: string;
}

/** What Capstan says about one stack at one commit; mapped onto each forge's own states. */
export type CommitState = 'pending' | 'success' | 'failure' | 'canceled';

export interface CommitStatus {
  sha: string;
  state: CommitState;
  /** `capstan/<instance>/<stack>`. */
  context: string;
  description: string;
  targetUrl: string | undefined;
  /** The branch deployed; GitLab attaches the status to that ref's pipeline. */
  ref: string | undefined;
}

export interface HttpRequest {
  method: 'POST';
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** GitHub refuses descriptions over 140 characters; the others take more, but a status line is short everywhere. */
const DESCRIPTION_MAX = 140;

/**
 * The forge a repository URL is on, by its host name (github.com and hosts
 * named like GitHub Enterprise, GitLab or Gitea/Forgejo/Codeberg). `api`
 * overrides the derived API base; undefined when the URL says nothing.
 */
export function forgeFromRepoUrl(repoUrl: string, kind?: ForgeKind, api?: string, repo?: string): Forge | undefined {
  let url: URL | undefined;
  try {
    url = new URL(repoUrl);
  } catch {
    url = undefined;
  }
  const host = url?.hostname.toLowerCase() ?? '';
  const guessed: ForgeKind | undefined = kind ?? (host.includes('github') ? 'github' : host.includes('gitlab') ? 'gitlab' : /gitea|forgejo|codeberg/.test(host) ? 'gitea' : undefined);
  const path = repo ?? url?.pathname.replace(/^\/+/, '').replace(/\.git$/, '').replace(/\/+$/, '');
  if (guessed === undefined || path === undefined || !path.includes('/')) return undefined;
  const base = api ?? (url === undefined ? undefined : defaultApi(guessed, url));
  return base === undefined ? undefined : { kind: guessed, api: base.replace(/\/+$/, ''), repo: path };
}

function defaultApi(kind: ForgeKind, url: URL): string {
  switch (kind) {
    case 'github': return url.hostname === 'github.com' ? 'https://api.github.com' : `${url.protocol}//${url.host}/api/v3`;
    case 'gitlab': return `${url.protocol}//${url.host}/api/v4`;
    case 'gitea': return `${url.protocol}//${url.host}/api/v1`;
  }
}

export function commitStatusRequest(forge: Forge, token: string, status: CommitStatus): HttpRequest {
  const description = status.description.length > DESCRIPTION_MAX ? `${status.description.slice(0, DESCRIPTION_MAX - 1)}…` : status.description;
  const target = status.targetUrl === undefined ? {} : { target_url: status.targetUrl };
  const json = { 'Content-Type': 'application/json', 'User-Agent': 'capstan' };
  switch (forge.kind) {
    case 'github':
      return {
        method: 'POST',
        url: `${forge.api}/repos/${forge.repo}/statuses/${status.sha}`,
        headers: { ...json, Accept: 'application/vnd.github+json', Authorization: `Bearer ${token}`, 'X-GitHub-Api-Version': '2022-11-28' },
        body: JSON.stringify({ state: GITHUB_STATE[status.state], context: status.context, description, ...target }),
      };
    case 'gitlab':
      return {
        method: 'POST',
        url: `${forge.api}/projects/${encodeURIComponent(forge.repo)}/statuses/${status.sha}`,
        headers: { ...json, 'PRIVATE-TOKEN': token },
        body: JSON.stringify({ state: GITLAB_STATE[status.state], name: status.context, description, ...target, ...(status.ref === undefined ? {} : { ref: status.ref }) }),
      };
    case 'gitea':
      return {
        method: 'POST',
        url: `${forge.api}/repos/${forge.repo}/statuses/${status.sha}`,
        headers: { ...json, Accept: 'application/json', Authorization: `token ${token}` },
        body: JSON.stringify({ state: GITEA_STATE[status.state], context: status.context, description, ...target }),
      };
  }
}

// A superseded deploy must not stay pending for ever: GitHub has no "canceled", so it ends as an error there.
const GITHUB_STATE: Record<CommitState, string> = { pending: 'pending', success: 'success', failure: 'failure', canceled: 'error' };
const GITLAB_STATE: Record<CommitState, string> = { pending: 'pending', success: 'success', failure: 'failed', canceled: 'canceled' };
const GITEA_STATE: Record<CommitState, string> = { pending: 'pending', success: 'success', failure: 'failure', canceled: 'warning' };

/** Where the forge's host is named in logs: never the token, never a path. */
export function describeForge(forge: Forge): string {
  const name = { github: 'GitHub', gitlab: 'GitLab', gitea: 'Gitea' }[forge.kind];
  try {
    return `${name} at ${new URL(forge.api).host}`;
  } catch {
    return name;
  }
}
