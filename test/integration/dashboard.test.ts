// The dashboard in a real browser (Debian's chromium driven by
// playwright-core) against a real `capstan run` with its router, a real Git
// server and the real engine: log in with the token, then watch — without a
// reload — a live deploy (progress bar from the rollout's persisted step, new
// revision with its commit subject), traffic charts fed by the router's
// counters and latency histogram (p95), a heal after a
// replica is killed, and a failed deploy rolled back, each as it happens;
// then the stack's deploy history. Screenshots go to test-results/dashboard/.

import { execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnCapstan, stopRouter } from '../helpers/cli.js';
import { TEST_IMAGE, cleanupInstance, uniqueInstance } from '../helpers/docker.js';
import { startTestGitServer, type TestGitServer, type TestRepo } from '../helpers/git.js';
import { freePort } from '../helpers/net.js';

const exec = promisify(execFile);
const TOKEN = 'dashboard-test-token';
const SHOTS = join(process.cwd(), 'test-results', 'dashboard');
const instance = uniqueInstance('t-dash');
const stack = instance.replace(/-/g, '');
const dataDir = mkdtempSync(join(tmpdir(), 'capstan-dash-'));
const profileDir = mkdtempSync(join(tmpdir(), 'capstan-dash-chromium-'));
let server: TestGitServer;
let repo: TestRepo;
let daemon: ChildProcess | undefined;
let browser: BrowserContext | undefined;
let page: Page;
let api = '';
let httpPort = 0;
let logs = '';
let loading = true;

const manifest = (release: string, run = `mkdir -p /www && echo ${release} > /www/index.html && trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait`): string => `name: ${stack}
services:
  web:
    image: ${TEST_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(run)}]
    environment: { RELEASE: "${release}" }
    deploy: { replicas: 2, update_config: { monitor: 2s } }
    x-capstan: { route: { path: / }, progress_deadline: 10s }
`;

async function sync(): Promise<void> {
  const res = await fetch(`${api}/api/sync`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: '{}' });
  expect(res.status).toBe(202);
}

/** Requests through the router's HTTP entry while the test runs, so the charts have traffic to draw. */
async function load(): Promise<void> {
  for (let i = 0; loading && i < 20_000; i++) {
    // catch after then: a body cut off (a replica stopping) rejects r.text() too, and must not go unhandled.
    await fetch(`http://127.0.0.1:${httpPort}/`).then((r) => r.text()).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 40));
  }
}

const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(SHOTS, name), fullPage: true });
const within = { timeout: 60_000 };

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startTestGitServer();
  repo = await server.createRepo('infra');
  httpPort = await freePort();
  await repo.commitFiles({ [`stacks/${stack}.yaml`]: manifest('1') }, 'release 1: two web replicas');
  daemon = spawnCapstan(['run', '--repo', repo.url, '--instance', instance, '--data-dir', dataDir, '--interval', '1h', '--listen', '127.0.0.1:0', '--http-port', String(httpPort)], (t) => (logs += t), { CAPSTAN_API_TOKEN: TOKEN });
  for (let i = 0; i < 300 && api === ''; i++) {
    api = /"listen":"(http:\/\/[^"]+)"/.exec(logs)?.[1] ?? '';
    await new Promise((r) => setTimeout(r, 100));
  }
  if (api === '') throw new Error(`the daemon logged no API address:\n${logs}`);
  // A fresh profile of its own (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profileDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
});

afterAll(async () => {
  loading = false;
  await browser?.close();
  // Gone before the cleanup lists containers: a pass in flight must not create one behind its back.
  const exited = new Promise((resolve) => (daemon === undefined || daemon.exitCode !== null ? resolve(undefined) : daemon.once('exit', resolve)));
  daemon?.kill('SIGKILL');
  await exited;
  stopRouter(dataDir);
  await cleanupInstance(instance);
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(profileDir, { recursive: true, force: true });
});

describe('the dashboard', () => {
  const card = (): string => `article[data-stack="${stack}"]`;

  it('asks for the token, then shows the stack Ready with its revision and commit subject', async () => {
    await page.goto(api);
    await page.fill('#token', 'wrong');
    await page.click('button[type=submit]');
    await page.waitForSelector('text=That is not the API token.');
    await page.fill('#token', TOKEN);
    await page.click('button[type=submit]');
    await page.waitForSelector(`${card()} .badge[data-ready="True"]`, within);
    await page.waitForSelector(`${card()} .stack-head .rev:has-text("release 1: two web replicas")`, within);
    // Marks this document: a reload would lose it.
    await page.evaluate(() => Object.assign(window, { capstanTestMark: true }));
    void load();
    await page.waitForSelector(`[data-chart="${stack}/web/requests/s"] svg polyline`, within);
    // p95 from the router's latency histogram of the stack's route, for the revision that runs.
    await page.waitForSelector(`[data-chart="${stack}/web/p95"] .value:has-text(" ms")`, within);
    await shot('1-ready.png');
  });

  it('shows a live deploy: its progress, then the new revision, the event and the plan', async () => {
    const sha = await repo.commitFiles({ [`stacks/${stack}.yaml`]: manifest('2') }, 'release 2: new index page');
    await sync();
    // The bar is the lane's persisted rollout step: batch i of 2 (one replica per batch).
    await page.waitForSelector(`${card()} [data-progress="rollout ${stack}/web"][data-step$="/2"] .bar`, within);
    expect(await page.textContent(`${card()} [data-progress="rollout ${stack}/web"] .label`)).toMatch(new RegExp(`to ${sha.slice(0, 7)}: batch [12]/2 `));
    await shot('2-rolling.png');
    await page.waitForSelector(`${card()} .stack-head .rev[data-revision="${sha}"]:has-text("release 2: new index page")`, within);
    await page.waitForSelector(`#events li[data-kind="deployed"]:has-text("${sha.slice(0, 7)}")`, within);
    expect(await page.textContent('#plan')).toContain(`recreate-container ${stack}-web-1`);
    await expect.poll(() => page.locator(`${card()} [data-progress]`).count(), within).toBe(0);
  });

  it('shows a heal as it happens', async () => {
    await exec('docker', ['kill', `${stack}-web-1`]);
    await page.waitForSelector(`#events li[data-kind="heal"]:has-text("${stack}/web")`, within);
    await page.waitForSelector(`${card()} .badge[data-ready="True"]`, within);
    await shot('3-healed.png');
  });

  it('shows a failed deploy rolled back, and the deploy history from the status branch', async () => {
    const broken = await repo.commitFiles({ [`stacks/${stack}.yaml`]: manifest('3', 'echo starting; exit 3') }, 'release 3: broken start');
    await sync();
    await page.waitForSelector(`#events li[data-kind="rolled-back"]`, within);
    // The event can reach the page over SSE before the status that names the rollback does.
    await page.waitForSelector(`${card()} .badge[data-ready="False"]`, within);
    await expect.poll(async () => page.textContent(card()), within).toContain('RolledBack');
    await page.click(`${card()} details[data-history] summary`);
    await page.waitForSelector(`${card()} tr[data-deploy="${broken}"] .outcome-rolled-back`, within);
    expect(await page.locator(`${card()} tr[data-deploy] .outcome-succeeded`).count()).toBe(2);
    await shot('4-rolled-back.png');
    expect(await page.evaluate(() => (window as unknown as { capstanTestMark?: boolean }).capstanTestMark)).toBe(true);
  });
});
