// Runs one probe of `x-capstan.probe` against one replica: HTTP GET or TCP
// connect to the container's IP on the stack network (from the host), or a
// command through `docker exec`. Every probe ends within its timeout and
// never throws: a failure is a result with the reason as output.

import type Docker from 'dockerode';
import { request } from 'node:http';
import { connect } from 'node:net';
import type { ProbeCheck } from '../manifests/model.js';
import type { ProbeResult } from './replica-health.js';

export interface ProbeTarget {
  containerId: string;
  /** Container IP on its network; undefined when it has none (probes other than exec then fail). */
  ip: string | undefined;
}

export type ExecClient = Pick<Docker, 'getContainer'>;

export async function runProbe(check: ProbeCheck, target: ProbeTarget, timeoutMs: number, docker: () => Promise<ExecClient>): Promise<ProbeResult> {
  if (check.kind === 'exec') return execProbe(await docker(), target.containerId, check.command, timeoutMs);
  if (target.ip === undefined) return { ok: false, output: 'container has no IP address' };
  return check.kind === 'http' ? httpProbe(target.ip, check.port, check.path, check.host, timeoutMs) : tcpProbe(target.ip, check.port, timeoutMs);
}

export function httpProbe(ip: string, port: number, path: string, host: string | undefined, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = request({ host: ip, port, path, method: 'GET', headers: host === undefined ? {} : { host }, timeout: timeoutMs, agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      res.resume();
      resolve({ ok: status >= 200 && status < 400, output: `HTTP ${status}` });
    });
    req.once('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.once('error', (err) => resolve({ ok: false, output: `GET http://${ip}:${port}${path}: ${err.message}` }));
    req.end();
  });
}

export function tcpProbe(ip: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port, timeout: timeoutMs });
    const done = (result: ProbeResult): void => {
      socket.destroy();
      resolve(result);
    };
    socket.once('connect', () => done({ ok: true, output: `connected to ${ip}:${port}` }));
    socket.once('timeout', () => done({ ok: false, output: `connect ${ip}:${port}: timed out after ${timeoutMs} ms` }));
    socket.once('error', (err) => done({ ok: false, output: `connect ${ip}:${port}: ${err.message}` }));
  });
}

export async function execProbe(docker: ExecClient, containerId: string, command: readonly string[], timeoutMs: number): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, output: `${command.join(' ')}: timed out after ${timeoutMs} ms` }), timeoutMs);
  });
  const run = async (): Promise<ProbeResult> => {
    const exec = await docker.getContainer(containerId).exec({ Cmd: [...command], AttachStdout: true, AttachStderr: true });
    const stream = await exec.start({ hijack: true, stdin: false });
    let output = '';
    stream.on('data', (d: Buffer) => {
      if (output.length < 4096) output += d.toString('utf8');
    });
    await new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    const { ExitCode } = await exec.inspect();
    // eslint-disable-next-line no-control-regex -- strip the engine's stream frame headers from the shown output
    const text = output.replace(/[\u0000-\u0008]/g, '').trim().slice(-200);
    return { ok: ExitCode === 0, output: `exit ${ExitCode ?? '?'}${text === '' ? '' : `: ${text}`}` };
  };
  try {
    return await Promise.race([run(), timeout]);
  } catch (err) {
    return { ok: false, output: `${command.join(' ')}: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    clearTimeout(timer);
  }
}
