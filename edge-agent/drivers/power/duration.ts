import { durationSchema as oneGrammar, parseDurationMs } from "../../../calendar/duration.ts";

/**
 * A power step's wait, in calendar/duration.ts's grammar like every other
 * duration ("2s", "500ms", "PT1S"; a bare number is seconds, as everywhere),
 * held in milliseconds for the sequencer.
 */
export const durationSchema = oneGrammar().transform((v) => parseDurationMs(v));
