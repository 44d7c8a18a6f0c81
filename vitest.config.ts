import { defineConfig } from 'vitest/config';

/**
 * Three projects, all run by `npm test`:
 * - unit: pure functions and single modules (codecs, RNG, schemas, the scheduler over a fake pool, the trainer's
 *   steps), no server;
 * - integration: the real app, runtime, workers, onnxruntime and sharp through routes, processes and sockets;
 * - browser: the playground in Debian's Chromium.
 * `npx vitest run --project unit` (or integration, browser) runs one.
 */
const INTEGRATION = [
  'test/src/routes/**/*.test.ts',
  'test/src/hardening/**/*.test.ts',
  'test/src/grpc/**/*.test.ts',
  'test/src/models/families.test.ts',
  'test/src/inference/{batching,model-control,runtime,providers}.test.ts',
  'test/src/{server,access}.test.ts',
  'test/models/**/*.test.ts',
  'test/deploy/**/*.test.ts',
  'test/scripts/docker/**/*.test.ts',
  'test/scripts/import/{import-model,serve-imported}.test.ts',
];
const BROWSER = ['test/e2e/**/*.test.ts'];

const shared = {
  // onnxruntime sessions and tfjs wasm are native/threaded; forks keep each test file in its own process.
  pool: 'forks' as const,
  // 2-core machines: two files at a time keeps the machine responsive while inference runs.
  maxWorkers: 2,
  testTimeout: 60_000,
  hookTimeout: 120_000,
};

export default defineConfig({
  test: {
    ...shared,
    projects: [
      {
        test: {
          ...shared,
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: [...INTEGRATION, ...BROWSER, '**/node_modules/**'],
        },
      },
      { test: { ...shared, name: 'integration', include: INTEGRATION } },
      { test: { ...shared, name: 'browser', include: BROWSER } },
    ],
  },
});
