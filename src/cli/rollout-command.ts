// `capstan promote|abort <stack>/<service>`: asks the daemon on --listen to
// act on the canary step in progress, and waits for its lane to answer (the
// lane is the only writer of the rollout's record). Exit 0 when it acted, 1
// (a typed error) when there was nothing to act on or no daemon to ask.

import type { Settings } from '../config/settings.js';
import { RolloutCommandError, UsageError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { clientApiToken } from '../server/api-token.js';

/** The lane answers at its next pass; a step in progress may hold it for a moment. */
const COMMAND_TIMEOUT_MS = 45_000;

export async function rolloutCommand(settings: Settings, logger: Logger, target: string, command: 'promote' | 'abort'): Promise<number> {
  const [stack, service, rest] = target.split('/');
  if (stack === undefined || stack === '' || service === undefined || service === '' || rest !== undefined) {
    throw new UsageError(`${command} ${target}: expected <stack>/<service>, e.g. web/api`);
  }
  const url = `http://${settings.listen}/api/rollouts/${encodeURIComponent(stack)}/${encodeURIComponent(service)}/${command}`;
  let res: Response;
  try {
    const token = clientApiToken(settings);
    const headers: Record<string, string> = { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) };
    res = await fetch(url, { method: 'POST', headers, body: '{}', signal: AbortSignal.timeout(COMMAND_TIMEOUT_MS) });
  } catch (err) {
    throw new RolloutCommandError(stack, service, command, `no daemon answers at ${url} (${err instanceof Error ? err.message : String(err)})`);
  }
  const body = (await res.json().catch(() => ({}))) as { done?: boolean; message?: string };
  if (res.status === 401) throw new RolloutCommandError(stack, service, command, `the daemon at ${url} refused the API token (set CAPSTAN_API_TOKEN or CAPSTAN_API_TOKEN_FILE as the daemon has it, or run with its --data-dir)`);
  if (res.ok && body.done === true) {
    logger.info({ stack, service, command }, body.message ?? `${command}d`);
    process.stdout.write(`${stack}/${service}: ${body.message ?? command}\n`);
    return 0;
  }
  throw new RolloutCommandError(stack, service, command, body.message ?? `the daemon at ${url} answered HTTP ${res.status}`);
}
