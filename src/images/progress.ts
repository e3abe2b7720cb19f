// Folds the engine's pull events (one JSON object per layer step) into one
// progress record per image: layers done of total, bytes downloaded of
// total, the digest once known. Pure: events and the clock come in; the
// log (at most every `LOG_EVERY_MS`) and the progress lines read the result.

/** Logs say how a pull goes at most this often, per image. */
export const LOG_EVERY_MS = 2000;

export interface PullProgress {
  image: string;
  layers: { done: number; total: number };
  bytes: { current: number; total: number };
  /** Repo digest, once the engine reported it. */
  digest: string | undefined;
}

/** One line of the engine's /images/create stream. */
export interface PullEvent {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}

interface Layer {
  current: number;
  total: number;
  done: boolean;
}

export class PullTracker {
  private readonly layers = new Map<string, Layer>();
  private digest: string | undefined;
  private lastLogAt: number | undefined;

  constructor(readonly image: string) {}

  add(event: PullEvent): void {
    const status = event.status ?? '';
    const digest = /^Digest: (\S+)/.exec(status)?.[1];
    if (digest !== undefined) this.digest = digest;
    // Events with an id and a layer-ish status are per layer; the first one ("Pulling from …") carries the tag as its id.
    const id = event.id;
    if (id === undefined || /^Pulling from /.test(status)) return;
    const layer = this.layers.get(id) ?? { current: 0, total: 0, done: false };
    if (status === 'Downloading') {
      layer.current = event.progressDetail?.current ?? layer.current;
      layer.total = event.progressDetail?.total ?? layer.total;
    } else if (status === 'Download complete' || status === 'Verifying Checksum') {
      layer.current = Math.max(layer.current, layer.total);
    } else if (status === 'Pull complete' || status === 'Already exists') {
      layer.current = Math.max(layer.current, layer.total);
      layer.done = true;
    }
    this.layers.set(id, layer);
  }

  progress(): PullProgress {
    let done = 0;
    let current = 0;
    let total = 0;
    for (const l of this.layers.values()) {
      if (l.done) done++;
      current += l.current;
      total += l.total;
    }
    return { image: this.image, layers: { done, total: this.layers.size }, bytes: { current, total }, digest: this.digest };
  }

  /** True at most once every LOG_EVERY_MS: whether a progress line is due. */
  logDue(now: number): boolean {
    if (this.lastLogAt !== undefined && now - this.lastLogAt < LOG_EVERY_MS) return false;
    this.lastLogAt = now;
    return true;
  }
}

/** `3/7 layers, 12.4/30.1 MB` */
export function describeProgress(p: PullProgress): string {
  const bytes = p.bytes.total > 0 ? `, ${megabytes(p.bytes.current)}/${megabytes(p.bytes.total)} MB` : '';
  return `${p.layers.done}/${p.layers.total} layers${bytes}`;
}

function megabytes(n: number): string {
  return (n / 1_000_000).toFixed(1);
}
