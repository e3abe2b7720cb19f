// Samples a TrafficSource every few seconds while a dashboard is open (no
// page, no cost) and feeds the rates to the pages. A source that fails (the
// router restarting) is skipped for that round.

import type { DashboardFeed } from './feed.js';
import { TrafficMeter, type TrafficSource } from './traffic.js';

export const TRAFFIC_SAMPLE_MS = 2000;

export function startTrafficSampler(feed: DashboardFeed, source: TrafficSource, now: () => number = Date.now, everyMs = TRAFFIC_SAMPLE_MS): () => void {
  const meter = new TrafficMeter();
  let busy = false;
  const timer = setInterval(() => {
    if (feed.watchers === 0 || busy) return;
    busy = true;
    source.sample()
      .then((counters) => feed.addTraffic(meter.next(counters, now())), () => undefined)
      .finally(() => (busy = false));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
