import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // onnxruntime sessions and tfjs wasm are native/threaded; forks keep each test file in its own process.
    pool: 'forks',
    // 2-core machines: two files at a time keeps the machine responsive while inference runs.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
