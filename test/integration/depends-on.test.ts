// depends_on with condition service_healthy, as Compose honours it: the
// dependent is created only once the dependency's healthcheck passes, and a
// dependency that never gets healthy fails the apply with a clear timeout
// error while the dependent is not created.

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capstan } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';

const exec = promisify(execFile);
const instance = uniqueInstance('t-deps');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-deps-'));
let server: TestGitServer;
let repo: TestRepo;

const manifest = (readyFile: string, deadline = '60s'): string => `name: ${stack}
services:
  db:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 2; touch /ready; while true; do sleep 1 & wait; done"]
    healthcheck: { test: ["CMD-SHELL", "test -f ${readyFile}"], interval: 500ms, retries: 100 }
  app:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1 & wait; done"]
    depends_on: { db: { condition: service_healthy } }
    x-capstan: { progress_deadline: ${deadline} }
`;

async function inspect(name: string, format: string): Promise<string> {
  return (await exec('docker', ['inspect', '--format', format, name])).stdout.trim();
}

beforeAll(async () => {
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
});

afterAll(async () => {
  await cleanupInstance(instance);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('depends_on: service_healthy', () => {
  it('creates the dependent only after the dependency is healthy', async () => {
    await repo.commitFiles({ 'stacks/app.yaml': manifest('/ready') }, 'healthy');
    const r = await capstan(['apply', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--log-level', 'warn']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const firstHealthy = await inspect(`${stack}-db-1`, '{{range .State.Health.Log}}{{if eq .ExitCode 0}}{{.End}} {{end}}{{end}}');
    const healthyAt = Date.parse(firstHealthy.split(' ')[0] ?? '');
    const appCreated = Date.parse(await inspect(`${stack}-app-1`, '{{.Created}}'));
    expect(Number.isNaN(healthyAt)).toBe(false);
    expect(appCreated).toBeGreaterThanOrEqual(healthyAt);
  });

  it('fails with a timeout naming the dependency when it never gets healthy, and does not create the dependent', async () => {
    await cleanupInstance(instance);
    await repo.commitFiles({ 'stacks/app.yaml': manifest('/never', '3s') }, 'never healthy');
    const r = await capstan(['apply', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--log-level', 'warn']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${stack}/app waits for db to be healthy, which did not happen within 3 s`);
    const names = (await exec('docker', ['ps', '-a', '--filter', `label=io.capstan.instance=${instance}`, '--format', '{{.Names}}'])).stdout;
    expect(names).toContain(`${stack}-db-1`);
    expect(names).not.toContain(`${stack}-app-1`);
  });
});
