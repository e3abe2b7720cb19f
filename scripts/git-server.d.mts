// Types for scripts/git-server.mjs, which stays plain JavaScript so the demo runs it with node.

export interface GitServer {
  /** `http://127.0.0.1:PORT`; a repo `<root>/x.git` is at `${url}/x.git`. */
  url: string;
  close(): Promise<void>;
}

export function startGitServer(opts: {
  root: string;
  port?: number;
  host?: string;
  /** Read on every request: changing its password revokes what clients hold. */
  auth?: { username: string; password: string };
  /** Awaited before each request is served (the request body waits). */
  beforeRequest?: (req: { method: string; url: string; userAgent: string }) => void | Promise<void>;
}): Promise<GitServer>;

/** Returns the bare repository's absolute path. */
export function createBareRepo(root: string, name: string, opts?: { seedDir?: string; branch?: string }): Promise<string>;
