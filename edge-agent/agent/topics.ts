/** The MQTT topics of the design ("Topics"), under the configured prefix. */
export function topics(prefix: string, agent: string) {
  return {
    status: `${prefix}/agents/${agent}/status`,
    events: `${prefix}/agents/${agent}/events`,
    usage: `${prefix}/agents/${agent}/usage`,
    /** Retained: per resource, whether the booking is in place (see enforcement.ts). */
    enforcement: `${prefix}/agents/${agent}/enforcement`,
    anyStatus: `${prefix}/agents/+/status`,
    schedule: (r: string) => `${prefix}/resources/${r}/schedule`,
    /** Retained: the agent id that serves the resource (labhog's choice, see claims.ts). */
    claim: (r: string) => `${prefix}/resources/${r}/agent`,
    statusOf: (a: string) => `${prefix}/agents/${a}/status`,
  };
}
export type Topics = ReturnType<typeof topics>;
