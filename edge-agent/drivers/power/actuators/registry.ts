import { z } from "zod";
import type { Actuator, ActuatorDeps } from "./actuator.ts";
import { commandConfigSchema, commandParamsSchema, commandReadParamsSchema, createCommandActuator } from "./command.ts";
import { createFlasherActuator, flasherConfigSchema, flasherParamsSchema } from "./flasher.ts";
import { createGpioActuator, gpioConfigSchema, gpioParamsSchema, gpioReadParamsSchema } from "./gpio.ts";
import { createPdudaemonActuator, pdudaemonConfigSchema, pdudaemonParamsSchema } from "./pdudaemon.ts";
import { createSerialActuator, serialConfigSchema, serialParamsSchema } from "./serial.ts";

export const actuatorConfigSchema = z.discriminatedUnion("type", [
  pdudaemonConfigSchema,
  gpioConfigSchema,
  serialConfigSchema,
  commandConfigSchema,
  flasherConfigSchema,
]);
export type ActuatorConfig = z.infer<typeof actuatorConfigSchema>;
export type ActuatorType = ActuatorConfig["type"];

/** Per actuator type: what a step's parameters and a device's `read` parameters must look like. */
export const stepParams: Record<ActuatorType, z.ZodType> = {
  pdudaemon: pdudaemonParamsSchema,
  gpio: gpioParamsSchema,
  serial: serialParamsSchema,
  command: commandParamsSchema,
  flasher: flasherParamsSchema,
};

export const readParams: Partial<Record<ActuatorType, z.ZodType>> = {
  gpio: gpioReadParamsSchema,
  command: commandReadParamsSchema,
};

export function createActuator(cfg: ActuatorConfig, deps: ActuatorDeps): Actuator {
  switch (cfg.type) {
    case "pdudaemon": return createPdudaemonActuator(cfg) as Actuator;
    case "gpio": return createGpioActuator(cfg, deps) as Actuator;
    case "serial": return createSerialActuator(cfg) as Actuator;
    case "command": return createCommandActuator(cfg, deps) as Actuator;
    case "flasher": return createFlasherActuator(cfg) as Actuator;
  }
}
