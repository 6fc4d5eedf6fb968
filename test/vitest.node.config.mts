import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/worker/**", "test/workerd/**", "node_modules/**"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Service-heavy suites (sshd in namespaces, real servers) share two cores.
    maxWorkers: 2,
  },
});
