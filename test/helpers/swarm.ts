// A real 3-node swarm for a test file, from scripts/swarm-harness.sh: three
// dockerd in network namespaces of their own, one manager and two workers,
// the local test image loaded into each. One per test file (started in
// beforeAll, torn down in afterAll): it takes seconds to start, and every
// object it makes is named after `name`, so nothing of the host's engine or
// of other tests is touched.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const HARNESS = fileURLToPath(new URL('../../scripts/swarm-harness.sh', import.meta.url));

export interface SwarmNode {
  socket: string;
  ip: string;
  id: string;
}

export interface TestSwarm {
  /** `unix:///var/run/<name>-1.sock`: the manager, as DOCKER_HOST. */
  dockerHost: string;
  nodes: SwarmNode[];
  /** `docker -H <manager> <args>`, trimmed stdout. */
  docker(...args: string[]): Promise<string>;
  /** Stops node `i`'s engine (1-based) as a lost machine stops: its containers die with it. */
  stopNode(i: number): Promise<void>;
  startNode(i: number): Promise<void>;
  down(): Promise<void>;
}

async function harness(name: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('bash', [HARNESS, ...args], { env: { ...process.env, CAPSTAN_SWARM_NAME: name }, maxBuffer: 4 * 1024 * 1024, timeout: 180_000 });
  return stdout;
}

export async function startTestSwarm(name: string, nodes = 3): Promise<TestSwarm> {
  const env = new Map(
    (await harness(name, 'up', String(nodes))).split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
  );
  const value = (key: string): string => {
    const v = env.get(key);
    if (v === undefined) throw new Error(`swarm-harness printed no ${key}`);
    return v;
  };
  const list = Array.from({ length: nodes }, (_, i) => ({ socket: value(`SWARM_NODE_${i + 1}_SOCKET`), ip: value(`SWARM_NODE_${i + 1}_IP`), id: value(`SWARM_NODE_${i + 1}_ID`) }));
  const dockerHost = value('DOCKER_HOST');
  return {
    dockerHost,
    nodes: list,
    docker: async (...args) => (await exec('docker', ['-H', dockerHost, ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout.trim(),
    stopNode: async (i) => void (await harness(name, 'stop-node', String(i))),
    startNode: async (i) => void (await harness(name, 'start-node', String(i))),
    down: async () => void (await harness(name, 'down')),
  };
}
