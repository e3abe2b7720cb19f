// A real smart-HTTP Git server for tests and the demo: every bare repository
// under `root` is served by running `git http-backend` as a CGI per request,
// optionally behind HTTP Basic auth. Plain JavaScript so `node` runs it as is.
//
//   node scripts/git-server.mjs --root DIR [--port 9418] [--seed manifests-example --name demo]

import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { timingSafeEqual } from 'node:crypto';

const execFileP = promisify(execFile);

// Identity and settings for commits made here, independent of the host's git config.
const DEMO_AUTHOR = { name: 'Capstan Demo', email: 'demo@localhost' };
const GIT_ENV = {
  GIT_AUTHOR_NAME: DEMO_AUTHOR.name,
  GIT_AUTHOR_EMAIL: DEMO_AUTHOR.email,
  GIT_COMMITTER_NAME: DEMO_AUTHOR.name,
  GIT_COMMITTER_EMAIL: DEMO_AUTHOR.email,
  GIT_TERMINAL_PROMPT: '0',
};

async function git(args, cwd) {
  const { stdout } = await execFileP('git', ['-c', 'commit.gpgsign=false', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    env: { ...process.env, ...GIT_ENV },
  });
  return stdout.trim();
}

let backendPath;
/** Spawning git-http-backend directly, not through the `git` wrapper, saves an exec per request. */
async function httpBackendPath() {
  if (backendPath === undefined) {
    const { stdout } = await execFileP('git', ['--exec-path']);
    const direct = join(stdout.trim(), 'git-http-backend');
    backendPath = (await stat(direct).then(() => true, () => false)) ? direct : null;
  }
  return backendPath;
}

function isAuthorized(header, auth) {
  if (typeof header !== 'string' || !header.startsWith('Basic ')) return false;
  const given = Buffer.from(header.slice(6), 'base64');
  const want = Buffer.from(`${auth.username}:${auth.password}`);
  return given.length === want.length && timingSafeEqual(given, want);
}

/**
 * Serve every bare repo under `root` over smart HTTP. `auth` is read on every
 * request, so changing its password revokes what clients hold.
 * @param {{ root: string, port?: number, host?: string, auth?: { username: string, password: string }, beforeRequest?: (req: { method: string, url: string, userAgent: string }) => void | Promise<void> }} opts
 * @returns {Promise<{ url: string, close(): Promise<void> }>}
 */
export async function startGitServer({ root, port = 0, host = '127.0.0.1', auth, beforeRequest }) {
  const projectRoot = resolve(root);
  const backend = await httpBackendPath();

  const server = createServer((req, res) => {
    // A test may act just before a request is served (move a branch under a push); the body waits, buffered.
    if (beforeRequest === undefined) serve(req, res);
    else Promise.resolve(beforeRequest({ method: req.method ?? 'GET', url: req.url ?? '/', userAgent: req.headers['user-agent'] ?? '' })).then(() => serve(req, res), (err) => {
      req.resume();
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`beforeRequest failed: ${err instanceof Error ? err.message : String(err)}\n`);
    });
  });

  function serve(req, res) {
    if (auth && !isAuthorized(req.headers.authorization, auth)) {
      req.resume();
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="capstan-test"', 'Content-Type': 'text/plain' });
      res.end('authentication required\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://git.invalid');
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      GIT_PROJECT_ROOT: projectRoot,
      GIT_HTTP_EXPORT_ALL: '1',
      // Pushes are part of the contract (status commits); per-repo config also sets it.
      GIT_CONFIG_COUNT: '1',
      GIT_CONFIG_KEY_0: 'http.receivepack',
      GIT_CONFIG_VALUE_0: 'true',
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.startsWith('?') ? url.search.slice(1) : '',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_USER: auth ? auth.username : '',
      REMOTE_ADDR: req.socket.remoteAddress ?? '',
    };
    // Without CONTENT_LENGTH (chunked bodies) http-backend reads stdin to EOF.
    if (req.headers['content-length'] !== undefined) env.CONTENT_LENGTH = req.headers['content-length'];
    if (req.headers['content-encoding'] !== undefined) env.HTTP_CONTENT_ENCODING = req.headers['content-encoding'];
    const protocol = req.headers['git-protocol'];
    if (typeof protocol === 'string') env.GIT_PROTOCOL = protocol;

    const child = backend === null ? spawn('git', ['http-backend'], { env }) : spawn(backend, [], { env });
    const stderr = [];
    child.stderr.on('data', (chunk) => stderr.push(chunk));
    child.on('error', (err) => fail(`cannot run git http-backend: ${err.message}`));
    child.stdin.on('error', () => {
      // The backend may exit before reading the whole body (e.g. bad request); its answer still counts.
    });
    req.pipe(child.stdin);

    let head = Buffer.alloc(0);
    let headersDone = false;
    function fail(message) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`${message}\n`);
    }
    child.stdout.on('data', (chunk) => {
      if (headersDone) {
        if (!res.write(chunk)) {
          child.stdout.pause();
          res.once('drain', () => child.stdout.resume());
        }
        return;
      }
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf('\r\n\r\n');
      const lf = head.indexOf('\n\n');
      let end = -1;
      let sepLen = 0;
      if (crlf !== -1 && (lf === -1 || crlf < lf)) {
        end = crlf;
        sepLen = 4;
      } else if (lf !== -1) {
        end = lf;
        sepLen = 2;
      }
      if (end === -1) return;
      headersDone = true;
      let status = 200;
      let statusText;
      const headers = {};
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon === -1) continue;
        const name = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (name.toLowerCase() === 'status') {
          const match = /^(\d{3})\s*(.*)$/.exec(value);
          if (match) {
            status = Number(match[1]);
            statusText = match[2] || undefined;
          }
        } else {
          headers[name] = value;
        }
      }
      if (statusText === undefined) res.writeHead(status, headers);
      else res.writeHead(status, statusText, headers);
      const rest = head.subarray(end + sepLen);
      if (rest.length > 0) res.write(rest);
    });
    child.stdout.on('end', () => {
      if (!headersDone) {
        fail(`git http-backend gave no response: ${Buffer.concat(stderr).toString().trim()}`);
        return;
      }
      res.end();
    });
    // A client that hangs up mid-transfer must not leave the backend running.
    res.on('close', () => {
      if (child.exitCode === null && child.signalCode === null) child.kill();
    });
  }

  await new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen(undefined);
    });
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  return {
    url: `http://${host}:${boundPort}`,
    close: () =>
      new Promise((resolveClose) => {
        server.close(() => resolveClose(undefined));
        server.closeAllConnections();
      }),
  };
}

/**
 * `git init --bare` <root>/<name>.git, allow pushes over HTTP and, given `seedDir`,
 * commit its contents as the first commit on `branch`. Returns the bare repo's path.
 * @param {string} root
 * @param {string} name
 * @param {{ seedDir?: string, branch?: string }} [opts]
 */
export async function createBareRepo(root, name, { seedDir, branch = 'main' } = {}) {
  const bare = resolve(root, `${name}.git`);
  await mkdir(bare, { recursive: true });
  await git(['init', '--quiet', '--bare', `--initial-branch=${branch}`, bare]);
  await git(['config', 'http.receivepack', 'true'], bare);
  if (seedDir !== undefined) {
    const work = await mkdtemp(join(tmpdir(), 'capstan-seed-'));
    try {
      await git(['init', '--quiet', `--initial-branch=${branch}`, work]);
      await cp(resolve(seedDir), work, { recursive: true, filter: (src) => !src.split(/[\\/]/).includes('.git') });
      await git(['add', '--all'], work);
      await git(['commit', '--quiet', '--allow-empty', '-m', 'Initial manifests'], work);
      await git(['push', '--quiet', bare, `HEAD:refs/heads/${branch}`], work);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  return bare;
}

async function main() {
  const { values } = parseArgs({
    options: {
      root: { type: 'string' },
      port: { type: 'string', default: '9418' },
      host: { type: 'string', default: '127.0.0.1' },
      seed: { type: 'string' },
      name: { type: 'string', default: 'demo' },
      branch: { type: 'string', default: 'main' },
    },
  });
  if (values.root === undefined) {
    console.error('usage: node scripts/git-server.mjs --root DIR [--port 9418] [--seed DIR --name demo] [--branch main]');
    process.exit(64);
  }
  const root = resolve(values.root);
  await mkdir(root, { recursive: true });
  const bare = join(root, `${values.name}.git`);
  const exists = await stat(join(bare, 'HEAD')).then(() => true, () => false);
  if (!exists) {
    await createBareRepo(root, values.name, { seedDir: values.seed, branch: values.branch });
  }
  const server = await startGitServer({ root, port: Number(values.port), host: values.host });
  console.log(`${server.url}/${values.name}.git`);
  const stop = () => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
