// Git credentials come only from the environment (DESIGN §8): never from flags,
// files or the data dir, so they cannot leak into shell history or status.
// A token is sent as HTTP Basic, which GitHub, Gitea and GitLab accept for PATs.

export type GitCredentials = { username: string; password: string };

/** The user name GitHub documents for tokens; Gitea and GitLab accept any non-empty name with a PAT. */
export const TOKEN_USERNAME = 'x-access-token';

export function credentialsFromEnv(env: NodeJS.ProcessEnv): GitCredentials | undefined {
  const token = env['CAPSTAN_GIT_TOKEN'];
  if (token !== undefined && token !== '') return { username: TOKEN_USERNAME, password: token };
  const username = env['CAPSTAN_GIT_USERNAME'];
  const password = env['CAPSTAN_GIT_PASSWORD'];
  if (username !== undefined && username !== '' && password !== undefined) return { username, password };
  return undefined;
}
