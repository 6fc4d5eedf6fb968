import { realpath } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { ValidationError } from "../../../calendar/errors.ts";

/**
 * Characters that mean something to a shell or a glob. No shell ever sees an image path
 * (we execFile with argument arrays), but a flasher may hand it on to one, so such
 * names are refused outright rather than trusted.
 */
const UNSAFE = /[\s;&|`$<>\\'"*?()[\]{}!#~^\x00-\x1f\x7f]/;

/**
 * Turns a reservation's image reference into an absolute path inside `imagesDir`,
 * or throws a ValidationError saying why it is refused: option-looking values,
 * shell metacharacters, and paths (relative or absolute, also through symlinks)
 * that leave the images directory.
 */
export async function resolveImage(ref: string, imagesDir: string | undefined): Promise<string> {
  if (ref.length === 0) throw new ValidationError("image reference is empty");
  if (ref.startsWith("-")) throw new ValidationError(`image "${ref}" looks like a command-line option`, { image: ref });
  if (UNSAFE.test(ref)) throw new ValidationError(`image "${ref}" contains characters that are not allowed`, { image: ref });
  if (ref.includes("://")) throw new ValidationError(`image "${ref}" is a URL; only files under the images directory can be flashed`, { image: ref });
  if (!imagesDir) throw new ValidationError("no imagesDir is configured, so no image can be flashed", { image: ref });
  const root = resolve(imagesDir);
  const candidate = isAbsolute(ref) ? resolve(ref) : resolve(root, ref);
  if (!inside(root, candidate)) throw new ValidationError(`image "${ref}" is outside the images directory ${root}`, { image: ref });
  // Symlinks inside the images dir must not lead out of it either.
  let real: string;
  let realRoot: string;
  try {
    realRoot = await realpath(root);
    real = await realpath(candidate);
  } catch {
    throw new ValidationError(`image "${ref}" does not exist under ${root}`, { image: ref });
  }
  if (!inside(realRoot, real)) throw new ValidationError(`image "${ref}" resolves outside the images directory ${root}`, { image: ref });
  return real;
}

function inside(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel !== "" && !rel.startsWith(".." + sep) && rel !== ".." && !isAbsolute(rel);
}
