import type { TestProject } from "vitest/node";
import { startRadicale } from "../services/radicale.ts";
import { startXandikos } from "../services/xandikos.ts";
import { startMosquitto } from "../services/mosquitto.ts";
import { startAuthMosquitto, startMqttTap, startOidcStandIn } from "./stand-ins.ts";
import { startStallProxy } from "./stall-proxy.ts";
import { startHangingServer } from "../calendar/hanging-server.ts";
import { startReceiverService } from "../webhooks/receiver-service.ts";
import { newSecret } from "../webhooks/receiver.ts";

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
    /** A Mosquitto that requires a username and password (labhog-worker / mqttAuthPassword). */
    mqttAuthWsUrl: string;
    mqttAuthPassword: string;
    /** A broker of its own for fault tests (the tap restarts it with ?broker=fault), so other files' brokers stay up. */
    mqttFaultWsUrl: string;
    /** HTTP front of a real MQTT client in Node (see stand-ins.ts). */
    mqttTapUrl: string;
    /** OIDC issuer stand-in (discovery, JWKS, token endpoint). */
    oidcIssuer: string;
    /** Radicale behind a TCP front that can hang or trickle (stall-proxy.ts), and its control port. */
    stallUrl: string;
    stallControlUrl: string;
    /** A TCP listener that accepts and never answers (a wedged calendar server). */
    hangingSilentUrl: string;
    /** A TCP listener that sends a 207's headers, then one body byte every 200 ms forever. */
    hangingTrickleUrl: string;
    /** A webhook receiver checking signatures with the Standard Webhooks library (test/webhooks/receiver-service.ts), and its secret. */
    webhookReceiverUrl: string;
    webhookSecret: string;
  }
}

export default async function setup(project: TestProject) {
  const mqttAuthPassword = "worker-secret-" + Math.random().toString(16).slice(2, 10);
  const [radicale, xandikos, mosquitto, mosquittoFault, mosquittoAuth, oidc] = await Promise.all([
    startRadicale(),
    startXandikos(),
    startMosquitto(),
    startMosquitto(),
    startAuthMosquitto("labhog-worker", mqttAuthPassword),
    startOidcStandIn(),
  ]);
  const [hangingSilent, hangingTrickle] = await Promise.all([startHangingServer("silent"), startHangingServer("trickle")]);
  const stall = await startStallProxy(radicale.url);
  const webhookSecret = newSecret();
  const webhooks = await startReceiverService(webhookSecret);
  project.provide("webhookReceiverUrl", webhooks.url);
  project.provide("webhookSecret", webhookSecret);
  project.provide("stallUrl", stall.url);
  project.provide("stallControlUrl", stall.controlUrl);
  const tap = await startMqttTap({ main: { url: mosquitto.url }, fault: { url: mosquittoFault.url, restart: () => mosquittoFault.restart() } });
  project.provide("radicaleUrl", radicale.url);
  project.provide("radicaleUser", radicale.username);
  project.provide("radicalePassword", radicale.password);
  project.provide("xandikosUrl", xandikos.url);
  project.provide("xandikosCalendarUrl", xandikos.calendarUrl);
  project.provide("mqttWsUrl", mosquitto.wsUrl);
  project.provide("mqttUrl", mosquitto.url);
  project.provide("mqttAuthWsUrl", mosquittoAuth.wsUrl);
  project.provide("mqttFaultWsUrl", mosquittoFault.wsUrl);
  project.provide("mqttAuthPassword", mqttAuthPassword);
  project.provide("mqttTapUrl", tap.url);
  project.provide("oidcIssuer", oidc.issuer);
  project.provide("hangingSilentUrl", hangingSilent.url);
  project.provide("hangingTrickleUrl", hangingTrickle.url);
  return async () => {
    await Promise.allSettled([webhooks.stop(), tap.stop(), oidc.stop(), hangingSilent.stop(), hangingTrickle.stop(), stall.stop()]);
    await Promise.all([radicale.stop(), xandikos.stop(), mosquitto.stop(), mosquittoFault.stop(), mosquittoAuth.stop()]);
  };
}
