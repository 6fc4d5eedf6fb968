import { startMosquitto } from "../services/mosquitto.ts";

/** A real Mosquitto that insists on a username and password (TCP and WebSocket listeners). */
export function startMosquittoWithPasswords(passwords: Record<string, string>) {
  return startMosquitto({ passwords });
}
