/** In Node: the caldav backend against real TCP listeners that hang (see hanging-specifics.ts). */
import { afterAll, beforeAll } from "vitest";
import { CaldavBackend, type CaldavOptions } from "../../../calendar/backends/caldav/backend.ts";
import { startRadicale, type RadicaleService } from "../../services/radicale.ts";
import { startHangingServer, type HangingServer } from "../hanging-server.ts";
import { hangingSpecifics } from "../contract/hanging-specifics.ts";

let radicale: RadicaleService;
let silent: HangingServer;
let trickle: HangingServer;
beforeAll(async () => {
  [radicale, silent, trickle] = await Promise.all([startRadicale(), startHangingServer("silent"), startHangingServer("trickle")]);
});
afterAll(async () => {
  await Promise.all([radicale?.stop(), silent?.stop(), trickle?.stop()]);
});

async function fresh(extra: Partial<CaldavOptions> = {}) {
  const backend = await CaldavBackend.connect({ serverUrl: radicale.url, username: radicale.username, password: radicale.password, calendar: `hang-${crypto.randomUUID().slice(0, 8)}`, createCalendar: true, ...extra });
  return {
    backend,
    cleanup: async () => { await (await fetch(backend.info.url, { method: "DELETE", headers: { Authorization: "Basic " + btoa(`${radicale.username}:${radicale.password}`) } })).arrayBuffer(); },
  };
}

hangingSpecifics("Radicale in Node", fresh, {
  silent: { get url() { return silent.url; }, stats: () => ({ accepted: silent.accepted, requests: silent.requests, closed: silent.closed }) },
  trickle: { get url() { return trickle.url; }, stats: () => ({ accepted: trickle.accepted, requests: trickle.requests, closed: trickle.closed }) },
});
