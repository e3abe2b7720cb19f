// Issue 9's benchmark: images from a registry, measured against their peer
// in the same run. (1) Cold converge of 20 services whose 20 images must all
// be pulled from a local registry (Debian's docker-registry on 127.0.0.1
// with htpasswd auth, each image with its own 2 MB layer): `capstan apply`
// against `docker-compose up -d` (v1, which pulls what is missing too),
// interleaved round by round, every round starting with the images and
// containers removed. (2) The daemon's tag-digest check for the same 20
// images (pull_policy: always: a HEAD on each manifest) per pass when nothing
// moved, in process, as the daemon runs it. Prints a markdown table and
// writes bench/results/pull.md. Run with `npm run bench:pull`.
//
// BENCH_QUICK=1 takes one cold round (for working on the bench).

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDesired } from '../src/desired/build.js';
import { dockerCredentials } from '../src/images/credentials.js';
import { DigestChecker } from '../src/images/digest-check.js';
import { RegistryClient } from '../src/images/registry.js';
import { silentLogger } from '../src/logging/logger.js';
import { loadStacks } from '../src/manifests/load.js';
import { removeLocalTags, startTestRegistry } from '../test/helpers/registry.js';
import { CAPSTAN_BIN } from './lib/capstan-cli.js';
import { run } from './lib/exec.js';
import { summarize, type Samples } from './lib/timing.js';

const quick = process.env['BENCH_QUICK'] === '1';
const COLD_ROUNDS = quick ? 1 : 5;
const DIGEST_PASSES = 20;
const SERVICES = 20;
const LAYER_BYTES = 2_000_000;
const RUN_ID = `${process.pid}`;
const REPO_PREFIX = `capbenchpull${RUN_ID}`;
const PROJECT = `capbenchpullc${RUN_ID}`;
const INSTANCE = `benchpull-${RUN_ID}`;
const STACK = `benchpull${RUN_ID}`;
const RESULTS = new URL('../../bench/results/pull.md', import.meta.url).pathname;
const COMMAND = ['sh', '-c', "trap 'exit 0' TERM; sleep 1000000 & wait"];

const progress = (m: string): void => void process.stderr.write(`bench: ${m}\n`);
const name = (i: number): string => `svc${String(i + 1).padStart(2, '0')}`;

function stackYaml(host: string, policy: string | undefined): string {
  const lines = ['services:'];
  for (let i = 0; i < SERVICES; i++) {
    lines.push(`  ${name(i)}:`, `    image: ${host}/${REPO_PREFIX}/${name(i)}:1.0`, `    command: ${JSON.stringify(COMMAND)}`);
    if (policy !== undefined) lines.push(`    pull_policy: ${policy}`);
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  await run('bash', ['scripts/ensure-registry.sh'], { timeoutMs: 600_000 });
  const scratch = await mkdtemp(join(tmpdir(), 'capstan-bench-pull-'));
  const registry = await startTestRegistry();
  const env = { ...process.env, DOCKER_CONFIG: registry.dockerConfig };
  const docker = (...args: string[]) => run('docker', args, { env, allowFailure: true });
  const composeDir = join(scratch, 'compose');
  const removeImages = () => removeLocalTags(registry.host, REPO_PREFIX);
  const composeDown = () => run('/usr/bin/docker-compose', ['-p', PROJECT, 'down', '-t', '1'], { cwd: composeDir, env, timeoutMs: 180_000, allowFailure: true }).catch(() => undefined);
  const capstanDown = async () => {
    const ids = (await docker('ps', '-aq', '--filter', `label=io.capstan.instance=${INSTANCE}`)).stdout.split('\n').filter((l) => l !== '');
    if (ids.length > 0) await docker('rm', '-f', ...ids);
    const nets = (await docker('network', 'ls', '-q', '--filter', `label=io.capstan.instance=${INSTANCE}`)).stdout.split('\n').filter((l) => l !== '');
    if (nets.length > 0) await docker('network', 'rm', ...nets);
  };
  try {
    progress(`pushing ${SERVICES} images (${LAYER_BYTES / 1e6} MB layer each) to ${registry.host}`);
    for (let i = 0; i < SERVICES; i++) await registry.pushNew(`${REPO_PREFIX}/${name(i)}`, '1.0', { bytes: LAYER_BYTES });

    // Capstan reads a local-path repository; compose the same file from its own directory.
    const repo = join(scratch, 'repo');
    await mkdir(join(repo, 'stacks'), { recursive: true });
    await writeFile(join(repo, 'stacks', `${STACK}.yaml`), stackYaml(registry.host, undefined));
    const git = (...args: string[]) => run('git', ['-c', 'user.name=b', '-c', 'user.email=b@x', '-c', 'commit.gpgsign=false', ...args], { cwd: repo });
    await git('init', '--quiet', '-b', 'main');
    await git('add', '-A');
    await git('commit', '--quiet', '-m', 'bench');
    await mkdir(composeDir, { recursive: true });
    await writeFile(join(composeDir, 'docker-compose.yml'), stackYaml(registry.host, undefined));

    const contenders = {
      capstan: async () => {
        await capstanDown();
        await removeImages();
        const r = await run(process.execPath, [CAPSTAN_BIN, 'apply', '--repo', repo, '--instance', INSTANCE, '--data-dir', join(scratch, 'data'), '--status-branch', 'none', '--log-level', 'warn'], { env, timeoutMs: 300_000 });
        return r.ms;
      },
      compose: async () => {
        await composeDown();
        await removeImages();
        const r = await run('/usr/bin/docker-compose', ['-p', PROJECT, 'up', '-d'], { cwd: composeDir, env, timeoutMs: 300_000 });
        return r.ms;
      },
    };
    const samples: Record<keyof typeof contenders, number[]> = { capstan: [], compose: [] };
    for (let i = 0; i < COLD_ROUNDS; i++) {
      const order = (i % 2 === 0 ? ['capstan', 'compose'] : ['compose', 'capstan']) as (keyof typeof contenders)[];
      for (const c of order) {
        progress(`cold round ${i + 1}/${COLD_ROUNDS}: ${c}`);
        samples[c].push(await contenders[c]());
      }
      // Neither keeps running while the other is measured.
      await composeDown();
      await capstanDown();
    }

    progress(`digest check: ${SERVICES} tags, ${DIGEST_PASSES} passes, with htpasswd auth and without`);
    const withAuth = await digestPasses(registry.host, join(registry.dockerConfig, 'config.json'));
    // The same images served without auth: htpasswd makes the registry check a bcrypt hash on every request.
    const anonymous = await startTestRegistry({ anonymous: { storage: registry.storage } });
    const withoutAuth = await digestPasses(anonymous.host, join(scratch, 'no-docker-config.json')).finally(() => anonymous.close());

    const capstan = summarize(samples.capstan);
    const compose = summarize(samples.compose);
    const report = render({ capstan, compose, withAuth, withoutAuth, loadAfter: loadavg()[0] ?? 0, composeVersion: (await run('/usr/bin/docker-compose', ['version', '--short'], { allowFailure: true })).stdout.trim() });
    process.stdout.write(`${report}\n`);
    await mkdir(join(RESULTS, '..'), { recursive: true });
    await writeFile(RESULTS, `${report}\n`);
    progress('written to bench/results/pull.md');
  } finally {
    await composeDown();
    await capstanDown();
    await removeImages();
    await registry.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** DIGEST_PASSES passes of the daemon's digest check over the 20 tags on `host`, after one first pass (which meets the auth challenge). */
async function digestPasses(host: string, dockerConfigFile: string): Promise<{ passes: Samples; firstMs: number }> {
  const loaded = loadStacks(new Map([[`stacks/${STACK}.yaml`, stackYaml(host, 'always')]]), { root: 'stacks', env: {} });
  if (loaded.errors.length > 0) throw new Error(loaded.errors.map((e) => e.format()).join('\n'));
  const services = buildDesired('0'.repeat(40), loaded.stacks).stacks.flatMap((s) => s.services);
  const checker = new DigestChecker(new RegistryClient({ credentials: dockerCredentials({ file: dockerConfigFile }) }), silentLogger());
  const passes: number[] = [];
  let firstMs = 0;
  for (let i = 0; i <= DIGEST_PASSES; i++) {
    const started = performance.now();
    const digests = await checker.digests(services);
    const ms = performance.now() - started;
    if (digests.size !== SERVICES) throw new Error(`digest check found ${digests.size}/${SERVICES} tags on ${host}`);
    if (i === 0) firstMs = ms;
    else passes.push(ms);
  }
  return { passes: summarize(passes), firstMs };
}

type DigestResult = Awaited<ReturnType<typeof digestPasses>>;

function render(r: { capstan: Samples; compose: Samples; withAuth: DigestResult; withoutAuth: DigestResult; loadAfter: number; composeVersion: string }): string {
  const s = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
  return [
    `# Images from a registry (${new Date().toISOString()})`,
    '',
    `${cpus().length} CPU, Node ${process.version}, docker-compose ${r.composeVersion}; ${SERVICES} services, each its own image with a ${LAYER_BYTES / 1e6} MB layer, pulled from docker-registry on 127.0.0.1 with htpasswd auth; load average after: ${r.loadAfter.toFixed(2)}.`,
    '',
    `| measurement | capstan apply | docker-compose up -d | ratio |`,
    '| --- | --- | --- | --- |',
    `| cold converge, all ${SERVICES} images pulled (median of ${r.capstan.values.length}) | ${s(r.capstan.median)} (p95 ${s(r.capstan.p95)}) | ${s(r.compose.median)} (p95 ${s(r.compose.p95)}) | ${(r.capstan.median / r.compose.median).toFixed(2)}× |`,
    '',
    `| daemon digest check, ${SERVICES} tags (HEAD per manifest), nothing moved, ${DIGEST_PASSES} passes | p50 | p95 | first pass |`,
    '| --- | --- | --- | --- |',
    `| registry with htpasswd auth (Basic; the registry checks a bcrypt hash per request) | ${s(r.withAuth.passes.median)} | ${s(r.withAuth.passes.p95)} | ${s(r.withAuth.firstMs)} |`,
    `| the same registry storage served without auth | ${s(r.withoutAuth.passes.median)} | ${s(r.withoutAuth.passes.p95)} | ${s(r.withoutAuth.firstMs)} |`,
    '',
    `Samples (ms): capstan ${r.capstan.values.map((v) => v.toFixed(0)).join(', ')}; compose ${r.compose.values.map((v) => v.toFixed(0)).join(', ')}.`,
  ].join('\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
