// DOCKER_HOST is read as the Docker CLI reads it, and dockerode errors land
// in the catalogue with the engine's own words.

import { describe, expect, it } from 'vitest';
import { resolveEndpoint } from '../../src/backends/docker/connect.js';
import { engineMessage, isConnectionError, statusCodeOf, toCapstanError } from '../../src/backends/docker/errors.js';
import { ConfigError, DockerApiError, DockerUnavailableError, NameConflictError } from '../../src/errors.js';

describe('resolveEndpoint', () => {
  it('defaults to the local socket', () => {
    expect(resolveEndpoint({})).toMatchObject({ url: 'unix:///var/run/docker.sock', options: { socketPath: '/var/run/docker.sock' } });
    expect(resolveEndpoint({ DOCKER_HOST: '' }).url).toBe('unix:///var/run/docker.sock');
  });

  it('takes a unix socket path', () => {
    expect(resolveEndpoint({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toMatchObject({
      url: 'unix:///run/user/1000/docker.sock',
      options: { socketPath: '/run/user/1000/docker.sock' },
    });
  });

  it('takes tcp, with the CLI default ports and TLS switch', () => {
    expect(resolveEndpoint({ DOCKER_HOST: 'tcp://10.0.0.5:2375' })).toMatchObject({ url: 'tcp://10.0.0.5:2375', options: { protocol: 'http', host: '10.0.0.5', port: 2375 }, certPath: undefined });
    expect(resolveEndpoint({ DOCKER_HOST: 'tcp://10.0.0.5' }).url).toBe('tcp://10.0.0.5:2375');
    expect(resolveEndpoint({ DOCKER_HOST: '10.0.0.5:4243' }).url).toBe('tcp://10.0.0.5:4243');
    const tls = resolveEndpoint({ DOCKER_HOST: 'tcp://docker.example', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' });
    expect(tls).toMatchObject({ url: 'tcp://docker.example:2376', options: { protocol: 'https', port: 2376 }, certPath: '/certs' });
    expect(resolveEndpoint({ DOCKER_HOST: 'tcp://d:2376', DOCKER_TLS_VERIFY: '1', HOME: '/home/u' }).certPath).toBe('/home/u/.docker');
  });

  it('takes ssh', () => {
    expect(resolveEndpoint({ DOCKER_HOST: 'ssh://ops@build.example' })).toMatchObject({ url: 'ssh://ops@build.example', options: { protocol: 'ssh', host: 'build.example', username: 'ops' } });
  });

  it('rejects what the CLI rejects', () => {
    expect(() => resolveEndpoint({ DOCKER_HOST: 'fd://' })).toThrow(ConfigError);
    expect(() => resolveEndpoint({ DOCKER_HOST: 'tcp://' })).toThrow(ConfigError);
  });
});

function apiError(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) unexpected - ${message} `), { statusCode, json: { message } });
}

describe('docker error mapping', () => {
  it('treats a missing or refusing socket as an unavailable engine', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), { code: 'ECONNREFUSED' });
    const missing = Object.assign(new Error('connect ENOENT /x.sock'), { code: 'ENOENT' });
    expect(isConnectionError(refused)).toBe(true);
    const mapped = toCapstanError(missing, 'ping', 'unix:///x.sock');
    expect(mapped).toBeInstanceOf(DockerUnavailableError);
    expect(mapped.data).toEqual({ endpoint: 'unix:///x.sock' });
  });

  it('keeps the engine message for API errors', () => {
    const err = apiError(500, 'driver failed programming external connectivity');
    expect(statusCodeOf(err)).toBe(500);
    expect(engineMessage(err)).toBe('driver failed programming external connectivity');
    const mapped = toCapstanError(err, 'start container web-api-1', 'unix:///var/run/docker.sock');
    expect(mapped).toBeInstanceOf(DockerApiError);
    expect(mapped.message).toBe('start container web-api-1: driver failed programming external connectivity');
  });

  it('falls back to the error text without dockerode prefix', () => {
    expect(engineMessage(Object.assign(new Error('(HTTP code 404) no such container - gone '), { statusCode: 404 }))).toBe('gone');
  });

  it('lets catalogued errors through', () => {
    const conflict = new NameConflictError('web-api-1', 'f'.repeat(64));
    expect(toCapstanError(conflict, 'create', 'x')).toBe(conflict);
  });
});
