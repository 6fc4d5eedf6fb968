import type { TestProject } from "vitest/node";
import { startRadicale } from "../services/radicale.ts";
import { startXandikos } from "../services/xandikos.ts";
import { startMosquitto } from "../services/mosquitto.ts";

/**
 * Real services for the tests that run inside workerd. Started once in Node
 * (workerd cannot spawn processes) and handed to the tests with `provide`:
 * read them with `inject("radicaleUrl")` etc. in a test, or via the bindings
 * of the same names set in vitest.workers.config.mts.
 */
declare module "vitest" {
  export interface ProvidedContext {
    radicaleUrl: string;
    radicaleUser: string;
    radicalePassword: string;
    xandikosUrl: string;
    xandikosCalendarUrl: string;
    mqttWsUrl: string;
    mqttUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const [radicale, xandikos, mosquitto] = await Promise.all([startRadicale(), startXandikos(), startMosquitto()]);
  project.provide("radicaleUrl", radicale.url);
  project.provide("radicaleUser", radicale.username);
  project.provide("radicalePassword", radicale.password);
  project.provide("xandikosUrl", xandikos.url);
  project.provide("xandikosCalendarUrl", xandikos.calendarUrl);
  project.provide("mqttWsUrl", mosquitto.wsUrl);
  project.provide("mqttUrl", mosquitto.url);
  return async () => {
    await Promise.all([radicale.stop(), xandikos.stop(), mosquitto.stop()]);
  };
}
