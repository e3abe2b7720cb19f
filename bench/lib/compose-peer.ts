// Peer 1: Debian's docker-compose v1.29 (Python), `up -d` on the same file.
// `up -d` returns once every container is started, so the command's own
// wall time is the converge time. A unique project name (-p) keeps its
// containers and network apart from anything else on the engine.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './exec.js';
import { runningContainers } from './engine.js';
import type { Contender } from './results.js';
import { SERVICE_COUNT, stackYaml } from './stack.js';

const COMPOSE = '/usr/bin/docker-compose';

export async function createCompose(dir: string, project: string): Promise<Contender> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'docker-compose.yml');
  const label = `com.docker.compose.project=${project}`;
  const compose = (...args: string[]) => run(COMPOSE, ['-p', project, '-f', file, ...args], { cwd: dir, timeoutMs: 180_000 });
  const up = async (): Promise<number> => {
    const { ms } = await compose('up', '-d');
    const running = await runningContainers(label);
    if (running !== SERVICE_COUNT) throw new Error(`docker-compose: ${running}/${SERVICE_COUNT} running after up -d`);
    return ms;
  };
  const down = async () => {
    await compose('down', '--remove-orphans', '-t', '2');
  };
  let generation = 0;
  await writeFile(file, stackYaml(generation));

  return {
    name: 'docker-compose',
    notes: new Set(),
    async cold() {
      await down();
      return up();
    },
    async noop() {
      return [await up()];
    },
    async change() {
      generation += 1;
      await writeFile(file, stackYaml(generation));
      return up();
    },
    dispose: down,
  };
}
