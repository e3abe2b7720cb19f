// Turns what dockerode throws into Capstan's error catalogue: a socket that
// does not answer is DockerUnavailableError (retry later, the engine is
// down), anything the engine answered with is DockerApiError carrying the
// engine's own message. Status codes are read here so callers can branch.

import { CapstanError, DockerApiError, DockerUnavailableError } from '../../errors.js';

// Errors raised before any HTTP answer: the engine is not there (or not ours to use).
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'EPERM', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

function field(err: unknown, key: string): unknown {
  return typeof err === 'object' && err !== null ? (err as Record<string, unknown>)[key] : undefined;
}

/** HTTP status of an engine answer, undefined when the engine never answered. */
export function statusCodeOf(err: unknown): number | undefined {
  const code = field(err, 'statusCode');
  return typeof code === 'number' ? code : undefined;
}

export function isConnectionError(err: unknown): boolean {
  if (statusCodeOf(err) !== undefined) return false;
  const code = field(err, 'code');
  return typeof code === 'string' && CONNECTION_CODES.has(code);
}

/** The engine's own words ("Conflict. The container name ... is already in use"), without dockerode's "(HTTP code 409) unexpected -" prefix. */
export function engineMessage(err: unknown): string {
  const json = field(err, 'json');
  const fromJson = field(json, 'message');
  if (typeof fromJson === 'string' && fromJson !== '') return fromJson;
  if (typeof json === 'string' && json.trim() !== '') return json.trim();
  if (err instanceof Error) return err.message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
  return String(err);
}

/** Wraps any failure of `operation` in a catalogued error; catalogued errors pass through untouched. */
export function toCapstanError(err: unknown, operation: string, endpoint: string): CapstanError {
  if (err instanceof CapstanError) return err;
  if (isConnectionError(err)) return new DockerUnavailableError(endpoint, err);
  return new DockerApiError(operation, engineMessage(err), err);
}
