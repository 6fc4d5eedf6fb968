import bundledLab from "./lab.yaml";
import { parseLabConfig, type LabConfig } from "../calendar/config/lab-config.ts";
import type { Env } from "./env.ts";

/**
 * The lab config: worker/lab.yaml bundled at build time, unless LAB_CONFIG
 * holds another one. Parsed once per text (isolates live for many requests).
 */
let cache: { text: string; lab: LabConfig } | undefined;

export function labOf(env: Env): LabConfig {
  const text = typeof env.LAB_CONFIG === "string" && env.LAB_CONFIG.trim() ? env.LAB_CONFIG : bundledLab;
  if (cache?.text !== text) cache = { text, lab: parseLabConfig(text) };
  return cache.lab;
}

export function mqttPrefix(lab: LabConfig): string {
  return lab.mqtt?.prefix ?? `labhog/${lab.site}`;
}
