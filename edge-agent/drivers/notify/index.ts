export { NotifyDriver, type NotifyDeps } from "./notify-driver.ts";
export { motdText, todays } from "./motd.ts";
