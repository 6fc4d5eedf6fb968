import { ValidationError } from "../../../calendar/errors.ts";

/** Values a step's arguments may refer to as `{name}`. Each stays part of one argv element. */
export type StepVars = Partial<Record<"image" | "mode" | "resource" | "holder", string>>;

const PLACEHOLDER = /\{(image|mode|resource|holder)\}/g;

export function usesPlaceholder(args: readonly string[], name: keyof StepVars): boolean {
  return args.some((a) => a.includes(`{${name}}`));
}

/**
 * Replaces `{image}` & co. inside each argument. The argument count never changes:
 * a value with spaces stays one argument, because the result goes to execFile, not a shell.
 */
export function substitute(args: readonly string[], vars: StepVars): string[] {
  return args.map((a) =>
    a.replace(PLACEHOLDER, (_m, name: keyof StepVars) => {
      const v = vars[name];
      if (v === undefined) throw new ValidationError(`this step needs {${name}} but the reservation has none`, { placeholder: name });
      return v;
    }),
  );
}
