// Capstan's own image for the tests that run it (image.test.ts,
// router-container.test.ts), built once per source: the tag carries a hash of
// everything the Dockerfile copies plus the base image, so test files share
// one build, and suites of other checkouts on the same engine (other sources)
// never see or remove it. Built from the local stand-in for node:20-alpine
// (scripts/build-node-base.sh), since no registry is reachable.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BASE = 'capstan/node-base:20';
const REPOSITORY = 'capstan/capstan';
/** What .dockerignore lets into the build context, and the Dockerfile itself. */
const INPUTS = ['Dockerfile', 'package.json', 'package-lock.json', 'tsconfig.json', 'scripts/build.mjs', 'src', 'bin'];
/** Test images of older sources are removed once this old: by then no suite still runs them. */
const STALE_MS = 60 * 60 * 1000;

function files(rel: string): string[] {
  const abs = path.join(ROOT, rel);
  if (!fs.statSync(abs).isDirectory()) return [rel];
  return fs.readdirSync(abs).sort().flatMap((name) => files(path.join(rel, name)));
}

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await exec('docker', args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  return stdout.trim();
}

let built: Promise<string> | undefined;

/** The tag of Capstan's image for the current source, building it when the engine lacks it. */
export function capstanImage(): Promise<string> {
  built ??= (async () => {
    await exec('bash', ['scripts/build-node-base.sh'], { cwd: ROOT });
    const hash = createHash('sha256').update(await docker('image', 'inspect', '--format', '{{.Id}}', BASE));
    for (const f of INPUTS.flatMap(files)) hash.update(`\0${f}\0`).update(fs.readFileSync(path.join(ROOT, f)));
    const tag = `${REPOSITORY}:test-${hash.digest('hex').slice(0, 16)}`;
    if (await docker('image', 'inspect', tag).then(() => true, () => false)) return tag;
    // The classic builder: no buildx plugin here, and it uses the local base without asking a registry.
    await docker('build', '-q', '--build-arg', `BASE=${BASE}`, '-t', tag, '.');
    await removeStale(tag);
    return tag;
  })();
  return built;
}

/** Keeps test images from piling up; one in use by any container is refused by the engine and stays. */
async function removeStale(keep: string): Promise<void> {
  const rows = (await docker('image', 'ls', REPOSITORY, '--format', '{{.Repository}}:{{.Tag}} {{.CreatedAt}}')).split('\n').filter((l) => l.startsWith(`${REPOSITORY}:test-`));
  for (const row of rows) {
    const [tag = '', ...created] = row.split(' ');
    // "2026-01-02 10:11:12 +0000 UTC": the first three words parse.
    const at = Date.parse(created.slice(0, 3).join(' '));
    if (tag !== keep && Date.now() - at > STALE_MS) await docker('image', 'rm', tag).catch(() => undefined);
  }
}
