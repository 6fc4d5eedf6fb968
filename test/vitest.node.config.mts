import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/worker/**", "test/workerd/**", "node_modules/**"],
    environment: "node",
    // The tests run the built agent and CLI: build them when stale.
    globalSetup: ["test/build-agent.setup.ts"],
    // What tempDir (test/services/process.ts) made is removed after each file.
    setupFiles: ["test/temp-dirs.setup.ts"],
    // After hooks last-registered first (the default, relied on by that setup file).
    sequence: { hooks: "stack" },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Service-heavy suites (sshd in namespaces, real servers) share two cores.
    maxWorkers: 2,
  },
});
