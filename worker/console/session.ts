/**
 * One console WebSocket, as decided before the upgrade (register.ts) and
 * kept as the socket's attachment in the Broker (it survives hibernation).
 */
export interface ConsoleSession {
  resource: string;
  /** The API's reservation id (`<resource>:<event id>`). */
  reservation: string;
  /** The schedule entry id, which the agent knows the booking by. */
  entryId: string;
  user: string;
  /** `watch`: read-only (admins, or the holder asking for it). */
  mode: "write" | "watch";
  /** The booking's end (ms): the Broker's alarm closes the socket then. */
  end: number;
  /** Random per socket: the agent takes input only from the last session that opened. */
  session: string;
}

export const SESSION_HEADER = "x-labhog-console-session";
