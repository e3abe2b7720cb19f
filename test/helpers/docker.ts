// Shared by every test that talks to the real engine: a unique instance name
// per test file, the locally built image, and a cleanup that removes only
// objects labelled with that instance (the engine is shared with other
// tests and with whatever else runs on the machine: never prune it).

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { LABEL } from '../../src/desired/labels.js';

const exec = promisify(execFile);

/** Built by scripts/build-images.sh (no registry here); :1.0 and :1.1 are the same image under other tags. */
export const TEST_IMAGE = 'capstan/busybox:latest';

/** `<prefix>-<8 hex>`: lowercase and short, so it is a valid stack/instance name and never collides between runs. */
export function uniqueInstance(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await exec('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/**
 * Removes containers, then networks, then volumes carrying
 * `io.capstan.instance=<instance>` — nothing else. Safe to call when there is
 * nothing to remove. Refuses an empty instance, which would match too much.
 */
export async function cleanupInstance(instance: string): Promise<void> {
  if (instance.trim() === '') throw new Error('cleanupInstance needs a non-empty instance name');
  const filter = `label=${LABEL.instance}=${instance}`;
  // A daemon killed just before may still have a create in flight at the engine: a network can gain an endpoint
  // after the containers were listed, so look again a few times before giving up.
  for (let round = 1; ; round++) {
    const containers = lines(await docker('ps', '-aq', '--filter', filter));
    if (containers.length > 0) await docker('rm', '-f', ...containers);
    const networks = lines(await docker('network', 'ls', '-q', '--filter', filter));
    try {
      if (networks.length > 0) await docker('network', 'rm', ...networks);
      break;
    } catch (err) {
      if (round >= 5) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  const volumes = lines(await docker('volume', 'ls', '-q', '--filter', filter));
  if (volumes.length > 0) await docker('volume', 'rm', '-f', ...volumes);
}

/** Ids of containers labelled with `instance` (for assertions after cleanup). */
export async function instanceContainers(instance: string): Promise<string[]> {
  return lines(await docker('ps', '-aq', '--filter', `label=${LABEL.instance}=${instance}`));
}

/** A busybox httpd replica that answers with its hostname (the container id), so bodies tell replicas apart. */
export const HOSTNAME_HTTPD = `["sh", "-c", "mkdir -p /www && hostname > /www/index.html && trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"]`;

/**
 * A stack of 3 HOSTNAME_HTTPD replicas, published on 127.0.0.1:`l4Port` and
 * routed on the HTTP entry for any host.
 */
export function routedReplicasManifest(stack: string, l4Port: number): string {
  return `name: ${stack}
services:
  web:
    image: ${TEST_IMAGE}
    command: ${HOSTNAME_HTTPD}
    deploy: { replicas: 3 }
    ports: ["127.0.0.1:${l4Port}:80"]
    x-capstan: { route: { path: / } }
`;
}
