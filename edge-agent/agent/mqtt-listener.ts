/** A driver with MQTT topics of its own (the console): the agent subscribes them on every connect and routes their messages. */
export interface MqttListener {
  topics(): string[];
  connected(): void;
  message(topic: string, payload: Buffer): boolean;
}

export function isMqttListener(d: object): d is MqttListener {
  const x = d as Partial<MqttListener>;
  return typeof x.topics === "function" && typeof x.connected === "function" && typeof x.message === "function";
}
