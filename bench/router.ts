// Router benchmark: wrk (2 threads, 50 connections, 10 s per target) against
// three local HTTP replicas on 127.0.0.1, directly and through Capstan's L7
// and L4 router, nginx and haproxy, all round-robin over the same replicas,
// in one run. The targets take turns for BENCH_ROUNDS rounds (3 by default)
// so load from elsewhere on a shared machine falls on all of them alike.
// Prints the median rps and p99, all errors and Capstan's ratios to nginx,
// and each proxy's CPU time (user + system, from /proc) per request: on a
// shared machine throughput swings with whatever else runs, CPU per request
// much less.
// Then a slowloris phase: SLOWLORIS (5000) connections that send one header
// line every 5 s (and reconnect when closed, as an attacker does) are held
// open against Capstan's L7 entry and against nginx's, one at a time, while
// wrk measures normal requests; from 10 loopback source addresses, so the
// per-IP cap (1000 by default) does not simply refuse them.
// Then TLS (BENCH_TLS=0 skips it): Capstan's HTTPS entry and nginx's with the
// same self-made ECDSA P-256 certificate, keep-alive rps and new handshakes
// per second (wrk with Connection: close: one TCP and TLS handshake per
// request, no session resumption).
// BENCH_BASELINE=path/to/other/bin/capstan.mjs adds that build's router as
// "baseline L7/L4" in the same rounds, for before/after comparisons under the
// same load; BENCH_TARGETS=capstan,baseline,nginx keeps only targets whose
// names start with one of those words.
// Run: bash bench/router.sh  (installs wrk, nginx-light, libnginx-mod-stream and haproxy when missing, as root).

import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { RouterClient } from '../src/router/client.js';
import { freePort } from '../test/helpers/net.js';
import { makeCa, makeLeaf } from '../test/helpers/tls.js';

const DURATION = process.env.BENCH_DURATION ?? '10s';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BASELINE = process.env.BENCH_BASELINE;
const ONLY = (process.env.BENCH_TARGETS ?? '').split(',').map((t) => t.trim()).filter((t) => t !== '');
const SLOWLORIS = Number(process.env.SLOWLORIS ?? 5000);
const TLS = process.env.BENCH_TLS !== '0';
const children: ChildProcess[] = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'capstan-bench-router-'));
// bench/router.sh runs the bundle from the repository root.
const BIN = path.resolve('bin/capstan.mjs');

function start(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  return child;
}

async function waitPort(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port}`);
}

interface Result {
  name: string;
  rps: number;
  p99ms: number;
  errors: number;
  /** CPU µs the proxy process spent per request; NaN when not measured. */
  cpuUs: number;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** utime + stime of `pid` in clock ticks (fields 14 and 15 of /proc/PID/stat, counted after the command name). */
function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function toMs(v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim());
  if (m === null) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function wrk(name: string, port: number, pid: number | undefined, duration = DURATION, scheme: 'http' | 'https' = 'http', extra: string[] = []): Result {
  const before = pid === undefined ? 0 : cpuTicks(pid);
  const out = execFileSync('wrk', ['-t2', '-c50', `-d${duration}`, '--latency', ...extra, `${scheme}://127.0.0.1:${port}/`], { encoding: 'utf8' });
  return wrkResult(name, out, pid, before);
}

/** wrk without blocking this process, whose event loop keeps the slowloris connections going meanwhile. */
function wrkAsync(name: string, port: number, pid: number | undefined): Promise<Result> {
  const before = pid === undefined ? 0 : cpuTicks(pid);
  return new Promise((resolve, reject) => {
    execFile('wrk', ['-t2', '-c50', `-d${DURATION}`, '--latency', `http://127.0.0.1:${port}/`], { encoding: 'utf8' }, (err, out) => {
      if (err !== null) reject(err);
      else resolve(wrkResult(name, out, pid, before));
    });
  });
}

function wrkResult(name: string, out: string, pid: number | undefined, before: number): Result {
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const cpuUs = pid === undefined ? NaN : ((cpuTicks(pid) - before) * 1e6) / CLK_TCK / requests;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN);
  const p99 = toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? '');
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const errors = non2xx + (socket === null ? 0 : socket.slice(1).reduce((a, b) => a + Number(b), 0));
  return { name, rps, p99ms: p99, errors, cpuUs };
}

/**
 * `count` connections to `port` that each send a request line, then one
 * header line every 5 s and never the blank line; one the server closes is
 * opened again. From 127.0.0.2-11.
 */
async function slowloris(port: number, count: number): Promise<{ closedByServer: () => number; open: () => number; stop: () => void }> {
  const sockets = new Set<net.Socket>();
  let closedByServer = 0;
  let running = true;
  const connect = (i: number): Promise<void> => new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${2 + (i % 10)}` });
    s.on('error', () => undefined);
    // Read (and drop) what comes back, so a close by the server is seen and the connection opened again.
    s.resume();
    s.once('connect', () => {
      sockets.add(s);
      s.write('GET / HTTP/1.1\r\nHost: slow\r\n');
      resolve();
    });
    s.once('close', () => {
      const wasOpen = sockets.delete(s);
      if (!running) return;
      if (wasOpen) closedByServer++;
      resolve();
      setTimeout(() => void connect(i), wasOpen ? 0 : 100);
    });
  });
  for (let i = 0; i < count; i += 250) await Promise.all(Array.from({ length: Math.min(250, count - i) }, (_, j) => connect(i + j)));
  const drip = setInterval(() => {
    for (const s of sockets) s.write('X-Slow: 1\r\n');
  }, 5000);
  return {
    closedByServer: () => closedByServer,
    open: () => sockets.size,
    stop: () => {
      running = false;
      clearInterval(drip);
      for (const s of sockets) s.destroy();
    },
  };
}

const REPLICA = `
const http = require('node:http');
const body = Buffer.from('replica ' + process.argv[1] + ' ' + 'x'.repeat(100) + '\\n');
http.createServer({ keepAliveTimeout: 65000 }, (req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length }); res.end(body); })
  .listen(Number(process.argv[1]), '127.0.0.1');
`;

async function main(): Promise<void> {
  const replicas = [await freePort(), await freePort(), await freePort()];
  for (const p of replicas) start(process.execPath, ['-e', REPLICA, String(p)]);
  for (const p of replicas) await waitPort(p);
  const [capL7, capL4, ngL7, ngL4, haL7, haL4] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const [capTls, ngTls] = [await freePort(), await freePort()];
  // wrk sends the URL's host as SNI: the certificate and the TLS route are for 127.0.0.1.
  const ca = makeCa(tmp);
  const pem = makeLeaf(tmp, ca, 'bench', ['localhost'], ['127.0.0.1']);

  const backends = replicas.map((port, i) => ({ id: `replica-${i + 1}`, host: '127.0.0.1', port, weight: 1 }));
  const router = async (bin: string, name: string, l7: number, l4: number): Promise<{ process: ChildProcess; client: RouterClient }> => {
    const dataDir = path.join(tmp, name);
    const child = start(process.execPath, [bin, 'router', '--data-dir', dataDir, '--http-port', String(l7), '--http-host', '127.0.0.1', '--log-level', 'warn', ...(name === 'capstan' ? ['--https-port', String(capTls)] : [])]);
    const client = new RouterClient(path.join(dataDir, 'router', 'admin.sock'));
    for (let i = 0; i < 200 && !(await client.healthy()); i++) await new Promise((r) => setTimeout(r, 50));
    if (name === 'capstan') await client.putCertificate('bench', pem.cert, pem.key);
    // The TLS route is Capstan's only: a baseline build from before TLS would ignore its keys and route 127.0.0.1 like any host.
    const tlsRoute = name === 'capstan' ? [{ host: '127.0.0.1', pathPrefix: '/', backends, tls: { certificate: 'bench' } }] : [];
    await client.pushTable({ l7: [{ pathPrefix: '/', backends }, ...tlsRoute], l4: [{ listen: { host: '127.0.0.1', port: l4 }, backends }] });
    return { process: child, client };
  };
  const { process: routerProcess, client } = await router(BIN, 'capstan', capL7, capL4);
  const [baseL7, baseL4] = [await freePort(), await freePort()];
  const baseline = BASELINE === undefined ? undefined : await router(path.resolve(BASELINE), 'baseline', baseL7, baseL4);

  // One worker/thread each: the Capstan router is one Node process, so this compares per core.
  const servers = replicas.map((p) => `server 127.0.0.1:${p};`).join(' ');
  fs.writeFileSync(path.join(tmp, 'nginx.conf'), `
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1; daemon off; pid ${tmp}/nginx.pid; error_log ${tmp}/nginx-error.log warn;
worker_rlimit_nofile 30000;
events { worker_connections 14000; }
http {
  access_log off;
  client_body_temp_path ${tmp}/nb; proxy_temp_path ${tmp}/np; fastcgi_temp_path ${tmp}/nf; uwsgi_temp_path ${tmp}/nu; scgi_temp_path ${tmp}/ns;
  upstream app { ${servers} keepalive 64; }
  server { listen 127.0.0.1:${ngL7}; location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server {
    listen 127.0.0.1:${ngTls} ssl; ssl_certificate ${pem.certFile}; ssl_certificate_key ${pem.keyFile};
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
stream { upstream tcpapp { ${servers} } server { listen 127.0.0.1:${ngL4}; proxy_pass tcpapp; } }
`);
  const nginx = start('nginx', ['-c', path.join(tmp, 'nginx.conf'), '-e', path.join(tmp, 'nginx-error.log')]);
  const haServers = replicas.map((p, i) => `  server s${i} 127.0.0.1:${p}`).join('\n');
  fs.writeFileSync(path.join(tmp, 'haproxy.cfg'), `
global
  nbthread 1
  maxconn 4000
defaults
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend http_in
  mode http
  bind 127.0.0.1:${haL7}
  default_backend app
backend app
  mode http
  balance roundrobin
  option http-keep-alive
${haServers}
frontend tcp_in
  mode tcp
  bind 127.0.0.1:${haL4}
  default_backend tcpapp
backend tcpapp
  mode tcp
  balance roundrobin
${haServers}
`);
  const haproxy = start('haproxy', ['-f', path.join(tmp, 'haproxy.cfg'), '-db']);
  for (const p of [capL7, capL4, ngL7, ngL4, haL7, haL4, capTls, ngTls, ...(BASELINE === undefined ? [] : [baseL7, baseL4])]) await waitPort(p);
  // The master forks one worker, which does the proxying.
  const nginxWorker = Number(execFileSync('pgrep', ['-P', String(nginx.pid)], { encoding: 'utf8' }).trim().split('\n')[0]);

  const targets: [string, number, number | undefined][] = ([
    ['direct (one replica)', replicas[0]!, undefined],
    ['capstan L7', capL7, routerProcess.pid],
    ...(baseline === undefined ? [] : [['baseline L7', baseL7, baseline.process.pid] as [string, number, number | undefined]]),
    ['nginx L7', ngL7, nginxWorker],
    ['haproxy L7', haL7, haproxy.pid],
    ['capstan L4', capL4, routerProcess.pid],
    ...(baseline === undefined ? [] : [['baseline L4', baseL4, baseline.process.pid] as [string, number, number | undefined]]),
    ['nginx L4', ngL4, nginxWorker],
    ['haproxy L4', haL4, haproxy.pid],
  ] satisfies [string, number, number | undefined][]).filter(([name]) => ONLY.length === 0 || ONLY.some((o) => name.startsWith(o)));
  // Not counted: the first seconds of a Node router run before the JIT has compiled its hot paths.
  for (const [name, port, pid] of targets) wrk(name, port, pid, '2s');
  const rounds: Result[][] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(targets.map(([name, port, pid]) => wrk(name, port, pid)));
  const results = targets.map(([name]) => {
    const runs = rounds.map((r) => r.find((x) => x.name === name)!);
    return {
      name, rps: median(runs.map((r) => r.rps)), p99ms: median(runs.map((r) => r.p99ms)), errors: runs.reduce((a, r) => a + r.errors, 0), cpuUs: median(runs.map((r) => r.cpuUs)),
    };
  });
  const by = (n: string): Result | undefined => results.find((r) => r.name === n);
  process.stdout.write(`wrk -t2 -c50 -d${DURATION}, ${ROUNDS} rounds (medians), 3 node replicas on 127.0.0.1, ${os.cpus().length} cores, proxies with one worker/thread\n\n`);
  process.stdout.write(`${'target'.padEnd(22)} ${'rps'.padStart(9)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)} ${'cpu µs/req'.padStart(11)}\n`);
  for (const r of results) {
    process.stdout.write(`${r.name.padEnd(22)} ${r.rps.toFixed(0).padStart(9)} ${r.p99ms.toFixed(2).padStart(8)} ${String(r.errors).padStart(7)} ${(Number.isNaN(r.cpuUs) ? '-' : r.cpuUs.toFixed(1)).padStart(11)}\n`);
  }
  const pct = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined ? '-' : `${((a / b) * 100).toFixed(0)}%`);
  const ratio = (a: string, b: string): string => pct(by(a)?.rps, by(b)?.rps);
  const perRound = (a: string, b: string): string => rounds.map((r) => pct(r.find((x) => x.name === a)?.rps, r.find((x) => x.name === b)?.rps)).join(' ');
  process.stdout.write(`\nper round: L7 ${perRound('capstan L7', 'nginx L7')}   L4 ${perRound('capstan L4', 'nginx L4')}\n`);
  process.stdout.write(`\ncapstan L7 / nginx L7: ${ratio('capstan L7', 'nginx L7')} (goal ≥ 100%)   capstan L7 / haproxy L7: ${ratio('capstan L7', 'haproxy L7')}\n`);
  process.stdout.write(`capstan L4 / nginx L4: ${ratio('capstan L4', 'nginx L4')} (goal ≥ 90%)   capstan L4 / haproxy L4: ${ratio('capstan L4', 'haproxy L4')}\n`);
  const cpu = (a: string, b: string): string => pct(by(b)?.cpuUs, by(a)?.cpuUs);
  process.stdout.write(`requests per CPU second, capstan / nginx: L7 ${cpu('capstan L7', 'nginx L7')}   L4 ${cpu('capstan L4', 'nginx L4')}\n`);
  if (BASELINE !== undefined) {
    process.stdout.write(`capstan / baseline: L7 ${ratio('capstan L7', 'baseline L7')} (per round ${perRound('capstan L7', 'baseline L7')})   L4 ${ratio('capstan L4', 'baseline L4')} (per round ${perRound('capstan L4', 'baseline L4')})\n`);
  }
  if (routerProcess.exitCode !== null || routerProcess.signalCode !== null) {
    throw new Error(`the capstan router exited during the run (${routerProcess.exitCode ?? routerProcess.signalCode ?? ''})`);
  }
  const stats = await client.stats();
  process.stdout.write(`capstan per-replica totals: ${stats.backends.map((b) => `${b.id}=${b.total}`).join(' ')}\n`);

  if (SLOWLORIS > 0) {
    const slowTargets: [string, number, number | undefined][] = ([
      ['capstan L7', capL7, routerProcess.pid],
      ...(baseline === undefined ? [] : [['baseline L7', baseL7, baseline.process.pid] as [string, number, number | undefined]]),
      ['nginx L7', ngL7, nginxWorker],
    ] satisfies [string, number, number | undefined][]).filter(([name]) => ONLY.length === 0 || ONLY.some((o) => name.startsWith(o)));
    process.stdout.write(`\nwith ${SLOWLORIS} slowloris connections open (one header line every 5 s, reopened when closed), wrk -t2 -c50 -d${DURATION}:\n\n`);
    process.stdout.write(`${'target'.padEnd(22)} ${'rps'.padStart(9)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)} ${'slow open'.padStart(10)} ${'slow closed'.padStart(12)}\n`);
    const slowResults: Result[] = [];
    for (const [name, port, pid] of slowTargets) {
      const attack = await slowloris(port, SLOWLORIS);
      const closedBefore = attack.closedByServer();
      const r = await wrkAsync(name, port, pid);
      const openAtEnd = attack.open();
      const closed = attack.closedByServer() - closedBefore;
      attack.stop();
      slowResults.push(r);
      process.stdout.write(`${name.padEnd(22)} ${r.rps.toFixed(0).padStart(9)} ${r.p99ms.toFixed(2).padStart(8)} ${String(r.errors).padStart(7)} ${String(openAtEnd).padStart(10)} ${String(closed).padStart(12)}\n`);
      // Let the server settle (closed sockets, timers) before the next one.
      await new Promise((r) => setTimeout(r, 2000));
    }
    const slow = (n: string): Result | undefined => slowResults.find((r) => r.name === n);
    process.stdout.write(`\nunder slowloris, capstan L7 / nginx L7: rps ${pct(slow('capstan L7')?.rps, slow('nginx L7')?.rps)}, p99 ${slow('capstan L7')?.p99ms.toFixed(1) ?? '-'} ms vs ${slow('nginx L7')?.p99ms.toFixed(1) ?? '-'} ms\n`);
  }

  if (TLS) {
    const close = ['-H', 'Connection: close'];
    const tlsTargets: [string, number, number | undefined, string[]][] = ([
      ['capstan TLS keep-alive', capTls, routerProcess.pid, []],
      ['nginx TLS keep-alive', ngTls, nginxWorker, []],
      ['capstan TLS handshakes', capTls, routerProcess.pid, close],
      ['nginx TLS handshakes', ngTls, nginxWorker, close],
    ] satisfies [string, number, number | undefined, string[]][]).filter(([name]) => ONLY.length === 0 || ONLY.some((o) => name.startsWith(o)));
    for (const [name, port, pid, extra] of tlsTargets) wrk(name, port, pid, '2s', 'https', extra);
    const tlsRounds: Result[][] = [];
    for (let i = 0; i < ROUNDS; i++) tlsRounds.push(tlsTargets.map(([name, port, pid, extra]) => wrk(name, port, pid, DURATION, 'https', extra)));
    const tlsResults = tlsTargets.map(([name]) => {
      const runs = tlsRounds.map((r) => r.find((x) => x.name === name)!);
      return { name, rps: median(runs.map((r) => r.rps)), p99ms: median(runs.map((r) => r.p99ms)), errors: runs.reduce((a, r) => a + r.errors, 0), cpuUs: median(runs.map((r) => r.cpuUs)) };
    });
    process.stdout.write(`\nTLS (ECDSA P-256, TLS 1.3), wrk -t2 -c50 -d${DURATION}, ${ROUNDS} rounds (medians); "handshakes": Connection: close, a full handshake per request:\n\n`);
    process.stdout.write(`${'target'.padEnd(24)} ${'rps'.padStart(9)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)} ${'cpu µs/req'.padStart(11)}\n`);
    for (const r of tlsResults) {
      process.stdout.write(`${r.name.padEnd(24)} ${r.rps.toFixed(0).padStart(9)} ${r.p99ms.toFixed(2).padStart(8)} ${String(r.errors).padStart(7)} ${(Number.isNaN(r.cpuUs) ? '-' : r.cpuUs.toFixed(1)).padStart(11)}\n`);
    }
    const t = (n: string): number | undefined => tlsResults.find((r) => r.name === n)?.rps;
    const tPer = (a: string, b: string): string => tlsRounds.map((r) => pct(r.find((x) => x.name === a)?.rps, r.find((x) => x.name === b)?.rps)).join(' ');
    process.stdout.write(`\ncapstan / nginx TLS: keep-alive rps ${pct(t('capstan TLS keep-alive'), t('nginx TLS keep-alive'))} (per round ${tPer('capstan TLS keep-alive', 'nginx TLS keep-alive')}), new handshakes/s ${pct(t('capstan TLS handshakes'), t('nginx TLS handshakes'))} (per round ${tPer('capstan TLS handshakes', 'nginx TLS handshakes')}) (goal ≥ 80% on both)\n`);
  }
}

try {
  await main();
} finally {
  for (const c of children) c.kill('SIGTERM');
  fs.rmSync(tmp, { recursive: true, force: true });
}
