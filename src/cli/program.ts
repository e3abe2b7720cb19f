// The command line: every command, its flags and help. Command modules are
// imported lazily so `capstan --help` or `validate` never load Docker's
// client; src/main.ts loads this module itself only once `capstan apply` has
// had its chance to ask a running daemon (src/cli/daemon-apply.ts).

import { Command, Option } from 'commander';
import { readSettingsFile } from '../config/file.js';
import { resolveSettings, type RawSettings, type Settings } from '../config/settings.js';
import { UsageError } from '../errors.js';
import { createLogger, type Logger } from '../logging/logger.js';
import { VERSION } from '../version.js';
import type { DaemonApply } from './daemon-apply.js';

type Action = (settings: Settings, logger: Logger) => Promise<number>;

function commonOptions(cmd: Command): Command {
  return cmd
    .option('--repo <url|path>', 'Git repository: http(s) URL or local path [CAPSTAN_REPO]')
    .option('--branch <name>', 'branch to follow [CAPSTAN_BRANCH] (default: main)')
    .option('--path <dir>', 'stacks directory inside the repository [CAPSTAN_PATH] (default: stacks)')
    .option('--instance <name>', 'name of this Capstan; objects are labelled with it [CAPSTAN_INSTANCE] (default: default)')
    .option('--data-dir <dir>', 'cache and state directory [CAPSTAN_DATA_DIR] (default: .capstan)')
    .addOption(new Option('--backend <kind>', 'engine backend [CAPSTAN_BACKEND] (default: docker)').choices(['docker', 'swarm']))
    .option('--parallelism <n>', 'engine operations in flight at once [CAPSTAN_PARALLELISM] (default: 32)')
    .option('--allow-env <names>', 'operator env vars manifests may interpolate, comma-separated, PREFIX_* allowed [CAPSTAN_ALLOW_ENV]')
    .option('--profile <names>', 'active Compose profiles, comma-separated, * for all [COMPOSE_PROFILES]')
    .option('--secrets-dir <dir>', 'the only host directory manifests may read secret/config files from (absolute `file:`) [CAPSTAN_SECRETS_DIR] (default: none)')
    .option('--policy <file>', "the operator's policy: exceptions, limits, and what the repository's capstan.yaml may grant itself [CAPSTAN_POLICY] (default: none: the repository grants its own, with a warning)")
    .option('--config <file>', 'settings file (default: ./capstan.yaml when present)')
    .addOption(new Option('--log-format <format>', 'log format on stderr [CAPSTAN_LOG_FORMAT] (default: json)').choices(['json', 'pretty']))
    .option('--log-level <level>', 'trace|debug|info|warn|error|silent [CAPSTAN_LOG_LEVEL] (default: info)');
}

/** Status commits and auto-revert: what `run` and `apply` write back to Git. */
function statusOptions(cmd: Command): Command {
  return cmd
    .option('--status-branch <name|none>', 'branch for status commits; none turns them off [CAPSTAN_STATUS_BRANCH] (default: capstan/status)')
    .option('--git-author <"Name <email>">', 'author of the commits Capstan pushes [CAPSTAN_GIT_AUTHOR] (default: Capstan <capstan@localhost>)')
    .option('--auto-revert', 'push a revert of a revision that fails to apply [CAPSTAN_AUTO_REVERT] (default: off)');
}
/** The router's edge limits, on `run` (handed to the router it starts) and on `router`. */
function edgeOptions(cmd: Command): Command {
  return cmd
    .option('--head-timeout <duration>', 'router: time from accept (or a keep-alive request\'s first byte) until the whole request head is in [CAPSTAN_HEAD_TIMEOUT] (default: 10s)')
    .option('--body-timeout <duration>', 'router: longest pause between request body reads, or while a client takes none of its answer [CAPSTAN_BODY_TIMEOUT] (default: 30s)')
    .option('--keep-alive-timeout <duration>', 'router: idle time of a keep-alive connection between requests [CAPSTAN_KEEP_ALIVE_TIMEOUT] (default: 60s)')
    .option('--tunnel-idle-timeout <duration>', 'router: idle time of an upgraded (WebSocket) connection [CAPSTAN_TUNNEL_IDLE_TIMEOUT] (default: 1h)')
    .option('--l4-idle-timeout <duration>', 'router: idle time of a published-port connection [CAPSTAN_L4_IDLE_TIMEOUT] (default: 1h)')
    .option('--max-connections <n>', 'router: open client connections, all entries [CAPSTAN_MAX_CONNECTIONS] (default: 10000)')
    .option('--max-connections-per-ip <n>', 'router: open client connections from one IP [CAPSTAN_MAX_CONNECTIONS_PER_IP] (default: 1000)')
    .option('--trusted-proxies <ips>', 'router: comma-separated addresses/CIDRs whose X-Forwarded-* are passed on [CAPSTAN_TRUSTED_PROXIES] (default: none)')
    .option('--https-port <port>', "router's HTTPS entry, open while some route has x-capstan.route.tls [CAPSTAN_HTTPS_PORT] (default: 8443)")
    .option('--acme-directory <url>', 'ACME directory for routes with tls: { acme: true } [CAPSTAN_ACME_DIRECTORY] (default: none)')
    .option('--acme-email <email>', 'contact of the ACME account [CAPSTAN_ACME_EMAIL]')
    .option('--acme-ca <file>', "PEM CA to trust for the ACME directory's own HTTPS (a test server such as pebble) [CAPSTAN_ACME_CA]");
}

/** Stack networks' addresses: what `run` and `apply` create networks with. */
function networkOptions(cmd: Command): Command {
  return cmd
    .option('--subnet-pool <cidr|none>', "pool each stack network without its own ipam gets a subnet from; none: the engine's default pools [CAPSTAN_SUBNET_POOL] (default: 10.231.0.0/16)")
    .option('--subnet-size <bits>', 'prefix length of each subnet taken from --subnet-pool [CAPSTAN_SUBNET_SIZE] (default: 24)');
}
/** Where the daemon tells of deploys: commit statuses on the forge and webhooks. */
function notifyOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--commit-status <forge>', 'commit status per stack on each deployed sha: auto (a known forge in --repo and a token), github, gitlab, gitea or off; token from CAPSTAN_FORGE_TOKEN or CAPSTAN_GIT_TOKEN [CAPSTAN_COMMIT_STATUS] (default: auto)').choices(['auto', 'github', 'gitlab', 'gitea', 'off']))
    .option('--forge-api <url>', "the forge's API base when --repo does not tell, e.g. https://gitea.example.com/api/v1 [CAPSTAN_FORGE_API]")
    .option('--forge-repo <owner/name>', "the repository on the forge when --repo's path differs [CAPSTAN_FORGE_REPO]")
    .option('--status-url <url>', 'link of every commit status, e.g. the dashboard [CAPSTAN_STATUS_URL]')
    .option('--notify-webhook <url>', 'POST deploy events as JSON here (signed with CAPSTAN_NOTIFY_WEBHOOK_SECRET when set); Slack-compatible: CAPSTAN_SLACK_WEBHOOK_URL [CAPSTAN_NOTIFY_WEBHOOK]');
}
const syncWindowOption = [
  '--sync-window <window>',
  'when changes may be applied, e.g. "deny 0 9-17 * * 1-5" (UTC; repeatable) [CAPSTAN_SYNC_WINDOW, ;-separated]',
  (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
] as const;

function withSettings(cmd: Command, action: (settings: Settings, logger: Logger, cmd: Command) => Promise<number>): Command {
  return cmd.action(async (...args: unknown[]) => {
    const self = args[args.length - 1] as Command;
    const opts = self.optsWithGlobals<Record<string, string | undefined> & { config?: string; syncWindow?: string[] }>();
    const flags: RawSettings = {
      repo: opts.repo, branch: opts.branch, path: opts.path, interval: opts.interval, instance: opts.instance,
      dataDir: opts.dataDir, statusBranch: opts.statusBranch, httpPort: opts.httpPort, router: opts.router, routerImage: opts.routerImage, routerAdmin: opts.routerAdmin ?? opts.admin,
      listen: opts.listen, backend: opts.backend, logFormat: opts.logFormat, logLevel: opts.logLevel,
      parallelism: opts.parallelism, allowEnv: opts.allowEnv, gitAuthor: opts.gitAuthor, autoRevert: opts.autoRevert, resync: opts.resync, syncWindow: opts.syncWindow,
      profiles: opts.profile, secretsDir: opts.secretsDir, policy: opts.policy, metricsPublic: opts.metricsPublic, subnetPool: opts.subnetPool, subnetSize: opts.subnetSize,
      engineLease: opts.engineLease, leaseImage: opts.leaseImage,
      commitStatus: opts.commitStatus, forgeApi: opts.forgeApi, forgeRepo: opts.forgeRepo, statusUrl: opts.statusUrl, notifyWebhook: opts.notifyWebhook,
      headTimeout: opts.headTimeout, bodyTimeout: opts.bodyTimeout, keepAliveTimeout: opts.keepAliveTimeout, tunnelIdleTimeout: opts.tunnelIdleTimeout,
      l4IdleTimeout: opts.l4IdleTimeout, maxConnections: opts.maxConnections, maxConnectionsPerIp: opts.maxConnectionsPerIp, trustedProxies: opts.trustedProxies,
      httpsPort: opts.httpsPort, acmeDirectory: opts.acmeDirectory, acmeEmail: opts.acmeEmail, acmeCa: opts.acmeCa,
    };
    const settings = resolveSettings(flags, process.env, readSettingsFile(opts.config));
    const logger = createLogger({ format: settings.logFormat, level: settings.logLevel });
    process.exitCode = await action(settings, logger, self);
  });
}

function lazy<K extends string, M extends Record<K, Action>>(load: () => Promise<M>, name: K): Action {
  return async (settings, logger) => (await load())[name](settings, logger);
}

/** `daemonAsked`: what src/main.ts already heard from a daemon at --listen when it asked for `apply` (not asked again). */
export function buildProgram(opts: { daemonAsked?: DaemonApply | undefined } = {}): Command {
  const program = new Command('capstan')
    .description('GitOps for Docker: a Git repository of Compose files is the desired state of your engine.')
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false });

  withSettings(
    edgeOptions(notifyOptions(networkOptions(statusOptions(commonOptions(program.command('run').description('run the daemon: follow the branch and keep the engine converged'))))))
      .option('--interval <duration>', 'poll interval [CAPSTAN_INTERVAL] (default: 30s)')
      .option('--listen <host:port>', 'HTTP API and dashboard address; a non-loopback one needs CAPSTAN_API_TOKEN or CAPSTAN_API_TOKEN_FILE [CAPSTAN_LISTEN] (default: 127.0.0.1:9420)')
      .option('--metrics-public', 'serve /metrics without the API token [CAPSTAN_METRICS_PUBLIC] (default: off)')
      .option('--http-port <port>', "router's shared HTTP entry port [CAPSTAN_HTTP_PORT] (default: 8000)")
      .addOption(new Option('--router <mode>', 'how traffic is routed: the router as a host process, as a container (host network), or none [CAPSTAN_ROUTER] (default: process)').choices(['process', 'container', 'none']))
      .option('--router-image <image>', 'image --router container runs [CAPSTAN_ROUTER_IMAGE] (default: capstan:<version>)')
      .option('--router-admin <127.0.0.1:port>', "router's admin API on the loopback with a bearer token (CAPSTAN_ROUTER_TOKEN, else the one the router writes to <data-dir>/router/admin.token) instead of its unix socket [CAPSTAN_ROUTER_ADMIN]")
      .option('--engine-lease', 'lead the instance only while also holding a lease container on the engine: for operators that share the engine but not the data dir [CAPSTAN_ENGINE_LEASE] (default: off)')
      .option('--lease-image <image>', 'image of the lease container; it runs `cat` [CAPSTAN_LEASE_IMAGE] (default: --router-image)')
      .option('--resync <duration|cron>', 'periodic full resync, e.g. 5m or "*/10 * * * *" [CAPSTAN_RESYNC] (default: 5m)')
      .option('--image-update-branch <name>', 'commit x-capstan.image_update tag bumps to this branch (for review) instead of --branch [CAPSTAN_IMAGE_UPDATE_BRANCH]')
      .option(...syncWindowOption),
    lazy(() => import('./run.js'), 'runCommand'),
  );
  withSettings(
    notifyOptions(networkOptions(statusOptions(commonOptions(program.command('apply').description('one reconcile pass of the newest commit, then exit (0 converged, 1 error)')))))
      .option(...syncWindowOption)
      .option('--listen <host:port>', "a daemon's HTTP API: when the daemon there follows this instance, repository, branch and path, it makes the pass [CAPSTAN_LISTEN] (default: 127.0.0.1:9420)")
      .option('--force', 'apply here even while a sync window is closed, and retry a revision whose rolling update failed and was held'),
    async (settings, logger, cmd) => {
      const { applyCommand } = await import('./apply.js');
      return applyCommand(settings, logger, { force: cmd.opts<{ force?: boolean }>().force === true, daemonAsked: opts.daemonAsked });
    },
  );
  withSettings(
    commonOptions(program.command('plan').description('show what applying a ref would change on the live engine (exit 0 no changes, 2 changes, 1 error)'))
      .option('--ref <ref>', 'branch, tag or commit to plan (default: --branch)')
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'markdown', 'json']).default('text')),
    async (settings, logger, cmd) => {
      const { planCommand } = await import('./plan.js');
      const o = cmd.opts<{ ref?: string; format: string }>();
      return planCommand(settings, logger, o.ref === undefined ? { format: o.format } : { ref: o.ref, format: o.format });
    },
  );
  withSettings(
    commonOptions(program.command('validate').argument('[dir]', 'directory of stacks (default: --path); with --repo and no DIR, the repository at --ref'))
      .description('parse and validate manifests; needs no Docker (exit 0 valid, 1 invalid)')
      .option('--ref <ref>', 'with --repo: branch, tag or commit to validate'),
    async (settings, logger, cmd) => {
      const { validateCommand } = await import('./validate.js');
      const dir = cmd.args[0];
      const ref = cmd.opts<{ ref?: string }>().ref;
      return validateCommand(settings, logger, { ...(dir === undefined ? {} : { dir }), ...(ref === undefined ? {} : { ref }) });
    },
  );
  withSettings(
    commonOptions(program.command('status').description("stacks, revisions, conditions and replicas from the daemon's HTTP API, else the status branch (exit 0, or 3 when a stack is not Ready)"))
      .option('--listen <host:port>', "the daemon's HTTP API, asked first [CAPSTAN_LISTEN] (default: 127.0.0.1:9420)")
      .option('--status-branch <name|none>', 'branch the daemon writes status to, read when no daemon answers [CAPSTAN_STATUS_BRANCH] (default: capstan/status)')
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text')),
    async (settings, logger, cmd) => {
      const { statusCommand } = await import('./status.js');
      return statusCommand(settings, logger, { format: cmd.opts<{ format: string }>().format });
    },
  );
  for (const [command, what] of [['promote', 'end the paused canary step now and go on to the next one'], ['abort', 'abort the canary release: all traffic back to the stable version, canaries removed']] as const) {
    withSettings(
      commonOptions(program.command(command).argument('<stack/service>', 'the service, e.g. web/api'))
        .description(`${what} (exit 0, 1 error)`)
        .option('--listen <host:port>', "the daemon's HTTP API [CAPSTAN_LISTEN] (default: 127.0.0.1:9420)"),
      async (settings, logger, cmd) => {
        const { rolloutCommand } = await import('./rollout-command.js');
        return rolloutCommand(settings, logger, cmd.args[0] ?? '', command);
      },
    );
  }
  withSettings(
    commonOptions(program.command('ps').argument('[stack]', 'only this stack'))
      .description("this instance's replicas: state, health, uptime, revision, image digest, like `docker compose ps` (exit 0)")
      .option('--listen <host:port>', "the daemon's HTTP API, asked for probe results and crash loops [CAPSTAN_LISTEN] (default: 127.0.0.1:9420)")
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text')),
    async (settings, logger, cmd) => {
      const { psCommand } = await import('./ps.js');
      return psCommand(settings, logger, { format: cmd.opts<{ format: string }>().format, stack: cmd.args[0] });
    },
  );
  withSettings(
    commonOptions(program.command('history').argument('<stack>', 'the stack'))
      .description("the stack's deploys from the status branch: when, revision, outcome, duration; newest first (exit 0)")
      .option('--status-branch <name>', 'branch the daemon writes status to [CAPSTAN_STATUS_BRANCH] (default: capstan/status)')
      .option('--limit <n>', 'status commits to look back through', '1000')
      .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text')),
    async (settings, logger, cmd) => {
      const { historyCommand } = await import('./history.js');
      const o = cmd.opts<{ format: string; limit: string }>();
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit ${o.limit}: not a positive number`);
      return historyCommand(settings, logger, { stack: cmd.args[0] ?? '', format: o.format, limit });
    },
  );
  withSettings(
    commonOptions(program.command('rollback').description('commit and push a revert of the newest change to the stacks, or restore them as of --to SHA (exit 0, 1 error)'))
      .option('--to <sha>', 'restore the stacks directory as it was at this commit')
      .option('--git-author <"Name <email>">', 'author of the commit [CAPSTAN_GIT_AUTHOR] (default: Capstan <capstan@localhost>)'),
    async (settings, logger, cmd) => {
      const { rollbackCommand } = await import('./rollback.js');
      const to = cmd.opts<{ to?: string }>().to;
      return rollbackCommand(settings, logger, to === undefined ? {} : { to });
    },
  );
  withSettings(
    edgeOptions(program.command('router')).description('run the router (data plane) alone: L4 listeners and the shared HTTP entry, driven over <data-dir>/router/admin.sock (or --admin 127.0.0.1:PORT with a token)')
      .option('--data-dir <dir>', 'state directory; the router keeps router/table.json and router/admin.sock in it [CAPSTAN_DATA_DIR] (default: .capstan)')
      .option('--http-port <port>', 'shared HTTP entry port when the table names none [CAPSTAN_HTTP_PORT] (default: 8000)')
      .option('--http-host <ip>', 'address the HTTP entry binds', '0.0.0.0')
      .option('--admin-socket <path>', 'admin socket path (default: <data-dir>/router/admin.sock)')
      .option('--admin <127.0.0.1:port>', 'serve the admin API on this loopback port instead, every request carrying Authorization: Bearer <token> (CAPSTAN_ROUTER_TOKEN, else generated and written 0600 to <data-dir>/router/admin.token) [CAPSTAN_ROUTER_ADMIN]')
      .option('--access-log', 'log one line per request (off by default: it costs throughput)', false)
      .option('--grace <ms>', 'on SIGTERM, how long in-flight work may finish', '10000')
      .option('--policy <file>', "the operator's policy: exceptions, limits, and what the repository's capstan.yaml may grant itself [CAPSTAN_POLICY] (default: none: the repository grants its own, with a warning)")
    .option('--config <file>', 'settings file (default: ./capstan.yaml when present)')
      .addOption(new Option('--log-format <format>', 'log format on stderr [CAPSTAN_LOG_FORMAT] (default: json)').choices(['json', 'pretty']))
      .option('--log-level <level>', 'trace|debug|info|warn|error|silent [CAPSTAN_LOG_LEVEL] (default: info)'),
    async (settings, logger, cmd) => {
      const { routerCommand } = await import('./router.js');
      const o = cmd.opts<{ httpHost: string; adminSocket?: string; accessLog: boolean; grace: string }>();
      const graceMs = Number(o.grace);
      if (!Number.isInteger(graceMs) || graceMs < 0) throw new UsageError(`--grace ${o.grace}: not a number of milliseconds`);
      if (o.adminSocket !== undefined && settings.routerAdmin !== undefined) throw new UsageError('--admin-socket and --admin (CAPSTAN_ROUTER_ADMIN) both say where the admin API listens: give one');
      const admin = o.adminSocket === undefined ? settings.routerAdmin : { kind: 'unix' as const, path: o.adminSocket };
      return routerCommand({ dataDir: settings.dataDir, httpPort: settings.httpPort, httpHost: o.httpHost, admin, token: settings.routerToken, accessLog: o.accessLog, graceMs, limits: settings.routerLimits, httpsPort: settings.httpsPort, acme: settings.acme }, logger);
    },
  );
  const secret = program.command('secret').description('make age-encrypted secret files for the repository, and the key the operator decrypts them with');
  secret
    .command('keygen')
    .description('create an age identity for CAPSTAN_AGE_KEY_FILE (prints the public key to stderr)')
    .option('-o, --output <file>', 'write the identity to FILE (mode 0600, never overwritten) instead of stdout')
    .action(async (o: { output?: string }) => {
      const { keygenCommand } = await import('./secret.js');
      process.exitCode = await keygenCommand(o.output);
    });
  secret
    .command('encrypt')
    .argument('<file>', 'the plain file to encrypt')
    .description('encrypt FILE with age to FILE.age, for a `secrets: { x: { file: ./FILE.age } }` in the repository')
    .option('-r, --recipient <age1...>', 'public key to encrypt to (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('-R, --recipients-file <file>', 'file of public keys, one per line')
    .option('-o, --output <file>', 'where to write; - for stdout (default: FILE.age)')
    .option('--binary', 'write binary age instead of ASCII armor', false)
    .addHelpText('after', '\nWithout --recipient or --recipients-file, encrypts to the identities of CAPSTAN_AGE_KEY_FILE.\nThe operator decrypts with CAPSTAN_AGE_KEY_FILE set to the matching identity file.')
    .action(async (file: string, o: { recipient?: string[]; recipientsFile?: string; output?: string; binary: boolean }) => {
      const { encryptCommand } = await import('./secret.js');
      const keyFile = process.env['CAPSTAN_AGE_KEY_FILE'];
      process.exitCode = await encryptCommand(file, { recipients: o.recipient ?? [], recipientsFile: o.recipientsFile, output: o.output, binary: o.binary, ageKeyFile: keyFile === '' ? undefined : keyFile });
    });
  program.command('version').description('print the version').action(() => {
    process.stdout.write(`capstan ${VERSION}\n`);
  });
  return program;
}

