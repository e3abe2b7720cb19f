// Where the Docker engine is, read from DOCKER_HOST the way the Docker CLI
// reads it, and the dockerode client for it. dockerode (and ssh2 behind it)
// is loaded only here and only on demand, so commands that never talk to
// Docker (validate, version) start without paying for it.

import type Docker from 'dockerode';
import type { DockerOptions } from 'dockerode';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../errors.js';
import { guardEngineCalls } from './watchdog.js';

export const DEFAULT_SOCKET = '/var/run/docker.sock';

export interface DockerEndpoint {
  /** What we talk to, for errors and logs: `unix:///var/run/docker.sock`, `tcp://10.0.0.5:2376`. */
  url: string;
  /** Connection options for dockerode (TLS material is read lazily by connectDocker). */
  options: DockerOptions;
  /** DOCKER_CERT_PATH (or ~/.docker) when TLS is on. */
  certPath: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Pure: DOCKER_HOST (+ DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) → endpoint.
 * Unset or empty means the local socket, as for the CLI (no context lookup).
 */
export function resolveEndpoint(env: Env = process.env): DockerEndpoint {
  const host = env['DOCKER_HOST']?.trim() ?? '';
  if (host === '') {
    return { url: `unix://${DEFAULT_SOCKET}`, options: { socketPath: DEFAULT_SOCKET }, certPath: undefined };
  }
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length) || DEFAULT_SOCKET;
    return { url: `unix://${socketPath}`, options: { socketPath }, certPath: undefined };
  }
  if (host.startsWith('tcp://') || host.startsWith('ssh://') || !host.includes('://')) {
    let url: URL;
    try {
      url = new URL(host.includes('://') ? host : `tcp://${host}`);
    } catch {
      throw new ConfigError(`DOCKER_HOST=${host} is not a valid address`, 'use unix:///path/to/docker.sock, tcp://host:port or ssh://user@host');
    }
    if (url.hostname === '') {
      throw new ConfigError(`DOCKER_HOST=${host} has no host`, 'use tcp://host:port, e.g. tcp://127.0.0.1:2375');
    }
    if (url.protocol === 'ssh:') {
      const options: DockerOptions = { protocol: 'ssh', host: url.hostname, port: url.port || 22 };
      if (url.username !== '') options.username = decodeURIComponent(url.username);
      const agent = env['SSH_AUTH_SOCK'];
      if (agent !== undefined) options.sshOptions = { agent };
      return { url: `ssh://${url.username === '' ? '' : `${url.username}@`}${url.hostname}${url.port === '' ? '' : `:${url.port}`}`, options, certPath: undefined };
    }
    // The CLI turns TLS on for any non-empty DOCKER_TLS_VERIFY, even "0", and for DOCKER_TLS.
    const tls = nonEmpty(env['DOCKER_TLS_VERIFY']) || nonEmpty(env['DOCKER_TLS']);
    const port = url.port === '' ? (tls ? 2376 : 2375) : Number(url.port);
    const certPath = tls ? (env['DOCKER_CERT_PATH'] || join(env['HOME'] ?? homedir(), '.docker')) : undefined;
    const options: DockerOptions = { protocol: tls ? 'https' : 'http', host: url.hostname, port };
    return { url: `tcp://${url.hostname}:${port}`, options, certPath };
  }
  throw new ConfigError(`DOCKER_HOST=${host} uses an unsupported scheme`, 'use unix:///path/to/docker.sock, tcp://host:port or ssh://user@host');
}

function nonEmpty(v: string | undefined): boolean {
  return v !== undefined && v !== '';
}

/** A dockerode client for `endpoint` (default: from the environment); its calls fail once the engine stops answering (./watchdog.ts). */
export async function connectDocker(endpoint: DockerEndpoint = resolveEndpoint()): Promise<{ docker: Docker; endpoint: string }> {
  const options: DockerOptions = { ...endpoint.options };
  if (endpoint.certPath !== undefined) {
    try {
      options.ca = readFileSync(join(endpoint.certPath, 'ca.pem'));
      options.cert = readFileSync(join(endpoint.certPath, 'cert.pem'));
      options.key = readFileSync(join(endpoint.certPath, 'key.pem'));
    } catch {
      throw new ConfigError(
        `TLS is on for ${endpoint.url} but ca.pem, cert.pem and key.pem cannot be read from ${endpoint.certPath}`,
        'set DOCKER_CERT_PATH to the directory holding them, or unset DOCKER_TLS_VERIFY',
      );
    }
  }
  const { default: DockerClient } = await import('dockerode');
  const docker = new DockerClient(options);
  guardEngineCalls(docker, endpoint.url);
  return { docker, endpoint: endpoint.url };
}
