export { HogDriver, type HogDeps, type HogState, type HogMount } from "./hog-driver.ts";
export { expandPattern, sshdAuthorizedKeysPatterns, splitPatterns } from "./authorized-keys-file.ts";
export { keyPart, restrictedLine } from "./key-lines.ts";
