// `capstan apply` on a terminal: one live line with every image being
// pulled (layers and megabytes), redrawn at most ten times a second and
// removed when the pass ends. Logs keep their own lines (at most one per
// image every 2 s); this line is only for the human watching.

import { describeProgress, type PullProgress } from '../images/progress.js';
import { setStatusLine } from '../logging/status-line.js';

const REDRAW_MS = 100;

export class PullProgressLine {
  private readonly images = new Map<string, PullProgress>();
  private timer: NodeJS.Timeout | undefined;

  update(p: PullProgress): void {
    this.images.set(p.image, p);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      setStatusLine(this.render());
    }, REDRAW_MS);
  }

  render(): string | undefined {
    const all = [...this.images.values()];
    const busy = all.filter((p) => !p.finished);
    if (busy.length === 0) return undefined;
    return `pulling ${all.length - busy.length}/${all.length} images done · ${busy.map((p) => `${p.image} ${describeProgress(p)}`).join(' · ')}`;
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    setStatusLine(undefined);
  }
}
