import { defineConfig } from "vitest/config";
import { cloudflareTest } from "@cloudflare/vitest-plugin";

// Tests that run inside workerd. Real Radicale, Xandikos and Mosquitto are
// started in Node by the global setup and passed in as bindings.
export default defineConfig({
  plugins: [
    cloudflareTest(({ inject }) => ({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          TEST_RADICALE_URL: inject<string>("radicaleUrl"),
          TEST_RADICALE_USER: inject<string>("radicaleUser"),
          TEST_RADICALE_PASSWORD: inject<string>("radicalePassword"),
          TEST_XANDIKOS_URL: inject<string>("xandikosUrl"),
          TEST_XANDIKOS_CALENDAR_URL: inject<string>("xandikosCalendarUrl"),
          TEST_MQTT_WS_URL: inject<string>("mqttWsUrl"),
        },
      },
    })),
  ],
  test: {
    include: ["test/worker/**/*.test.ts", "test/workerd/**/*.test.ts"],
    globalSetup: ["test/worker/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
