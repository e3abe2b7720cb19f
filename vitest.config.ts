import { defineConfig } from 'vitest/config';

// Two projects: pure units run in parallel; integration tests share one real
// Docker engine and Git server per file and run one file at a time so that
// timings and port use stay predictable on a 2-core machine.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/integration/**', 'test/faults/**'] } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      // The fault suite's long runs (npm run test:faults; scripts/test.sh runs them after the rest): real
      // faults injected around the real operator, each printing what it measured.
      {
        test: {
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 900_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
