// MQTT.js's browser build: it speaks MQTT over the global WebSocket, which
// workerd provides. The Node build wants `ws`, `net` and `tls`.
import mqttBrowser from "mqtt/dist/mqtt.esm";
import type { IClientOptions, MqttClient } from "mqtt";

export type { MqttClient };

export function connectMqtt(url: string, options: IClientOptions): MqttClient {
  return (mqttBrowser as unknown as { connect(url: string, o: IClientOptions): MqttClient }).connect(url, options);
}
