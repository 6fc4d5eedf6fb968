declare module "mqtt/dist/mqtt.esm" {
  const mqtt: unknown;
  export default mqtt;
}
