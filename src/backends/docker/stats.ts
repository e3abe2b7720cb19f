// One CPU reading of a container, as `docker stats` computes it: the
// container's share of the host's CPU time since the engine's previous
// sample, times the CPUs online (100 % is one CPU busy).

import type Docker from 'dockerode';

interface CpuStats {
  cpu_usage?: { total_usage?: number };
  system_cpu_usage?: number;
  online_cpus?: number;
}

export async function cpuPercent(docker: Pick<Docker, 'getContainer'>, containerId: string): Promise<number | undefined> {
  const s = (await docker.getContainer(containerId).stats({ stream: false })) as unknown as { cpu_stats?: CpuStats; precpu_stats?: CpuStats };
  const now = s.cpu_stats;
  const before = s.precpu_stats;
  const cpu = (now?.cpu_usage?.total_usage ?? 0) - (before?.cpu_usage?.total_usage ?? 0);
  const system = (now?.system_cpu_usage ?? 0) - (before?.system_cpu_usage ?? 0);
  if (system <= 0 || cpu < 0) return undefined;
  return (cpu / system) * (now?.online_cpus ?? 1) * 100;
}
