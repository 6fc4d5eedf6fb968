import { chromium, type Browser } from "playwright-core";

/** Debian's headless Chromium as the status page tests drive it: no sandbox (containers), nothing fetched in the background. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-background-networking", "--disable-gpu", "--disable-component-update", "--disable-sync", "--no-first-run"] });
}
