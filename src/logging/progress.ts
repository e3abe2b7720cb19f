// Progress of long work (builds, pulls, rollouts), reported by whoever does
// it and shown by whoever runs it: `capstan apply` draws live lines on a TTY
// and prints plain lines otherwise (src/cli/progress-line.ts); the daemon
// shows it on its dashboard (src/server/dashboard/feed.ts). Keys name one piece of work ("build web-api:1f2e3d4c5b6a",
// "pull redis:7", "rollout web/api"); an update replaces the key's line, done
// ends it. Reporters never wait on it and never fail because of it.

export interface Progress {
  /** `fraction` (0..1) when the work knows how far it is. */
  update(key: string, text: string, fraction?: number): void;
  done(key: string, text: string, ok?: boolean): void;
}

export const NO_PROGRESS: Progress = { update: () => undefined, done: () => undefined };
