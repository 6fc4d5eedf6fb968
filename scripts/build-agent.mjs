#!/usr/bin/env node
// `npm run build`: bundles the agent and the CLI into edge-agent/dist/ with
// esbuild, so a host runs plain JavaScript (no TypeScript loader at run time)
// and needs nothing from npm.
//
//   edge-agent/dist/labhog.mjs      the entry (executable); starts the CLI
//   edge-agent/dist/chunks/*.mjs    one chunk per lazily imported command or
//                                   driver: `labhog status` and an agent
//                                   without power/usb/usage never load theirs
//   edge-agent/dist/package.json    makes dist/ a package: `npm pack edge-agent/dist`
//   edge-agent/dist/systemd/        the unit, for the tarball
//
// Plain JavaScript, because `npm start` runs it before anything else.
// `--check` exits 1 when dist/ is older than a source it was built from;
// `--if-stale` builds only then; `--clean` also drops earlier builds' chunks at once; `--single <file>` writes everything as one file.
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "edge-agent", "dist");
const entry = join(root, "edge-agent", "bin", "entry.ts");

// Native modules cannot be bundled. Each is imported only when a configured
// device needs it (serialport for serial devices, usb for libusb access).
const external = ["serialport", "@serialport/*", "usb"];

export async function buildAgent({ quiet = false, clean = false } = {}) {
  const t0 = performance.now();
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: { labhog: entry },
    outdir: out,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    external,
    // Smaller files parse faster; names stay, so stack traces stay readable.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    metafile: true,
    write: false,
    logLevel: "warning",
    // Bundled CommonJS packages (mqtt, ws…) call require() for Node's own modules.
    banner: { js: `#!/usr/bin/env node\nimport { createRequire as __labhogRequire } from "node:module"; const require = __labhogRequire(import.meta.url);` },
  });
  // Colleagues' test runs may be running this checkout's dist/ right now: chunks
  // are named by their content and written first, the entry last and atomically,
  // so a process sees the old build or the new one, never half of each.
  await mkdir(join(out, "chunks"), { recursive: true });
  const entryFile = join(out, "labhog.mjs");
  const keep = new Set();
  for (const f of result.outputFiles) {
    keep.add(f.path);
    if (f.path !== entryFile) await writeAtomic(f.path, f.contents);
  }
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
  await writeAtomic(join(out, "package.json"), JSON.stringify({
    name: "labhog-agent",
    version: pkg.version,
    description: "labhog edge agent and CLI (built; see docs/deployment.md)",
    license: pkg.license,
    type: "module",
    engines: pkg.engines,
    bin: { labhog: "labhog.mjs" },
    files: ["labhog.mjs", "chunks/", "systemd/"],
    // Native modules, loaded only by what needs them (serial devices; libusb
    // for USB devices); `npm install --omit=optional` leaves them out.
    optionalDependencies: { serialport: pkg.dependencies.serialport, usb: pkg.dependencies.usb },
  }, null, 2) + "\n");
  await mkdir(join(out, "systemd"), { recursive: true });
  await writeAtomic(join(out, "systemd", "labhog-agent.service"), await readFile(join(root, "edge-agent", "systemd", "labhog-agent.service")));
  const sources = Object.keys(result.metafile.inputs).filter((f) => !f.includes("node_modules"));
  await writeAtomic(join(out, "sources.json"), JSON.stringify(sources) + "\n");
  await writeAtomic(entryFile, result.outputFiles.find((f) => f.path === entryFile).contents, 0o755);
  // Chunks of earlier builds go once no process started from them can still be
  // loading them (at once with --clean, before packing).
  for (const name of await readdir(join(out, "chunks"))) {
    const p = join(out, "chunks", name);
    if (!keep.has(p) && (clean || (await stat(p)).mtimeMs < Date.now() - 10 * 60_000)) await rm(p, { force: true });
  }
  if (!quiet) {
    const bytes = result.outputFiles.reduce((n, f) => n + f.contents.length, 0);
    console.error(`labhog: built edge-agent/dist in ${(performance.now() - t0).toFixed(0)} ms (${result.outputFiles.length} files, ${(bytes / 1024).toFixed(0)} KiB)`);
  }
  return result;
}

async function writeAtomic(path, data, mode = 0o644) {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

/**
 * The whole of it as one file, for a host that gets a single scp'd file: the
 * same code, drivers and commands still evaluated only when used (esbuild keeps
 * each lazily imported module behind an init function), but read in one piece.
 */
export async function buildSingleFile(file) {
  const { build } = await import("esbuild");
  await build({
    entryPoints: [entry],
    outfile: file,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external,
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: "none",
    logLevel: "warning",
    banner: { js: `#!/usr/bin/env node\nimport { createRequire as __labhogRequire } from "node:module"; const require = __labhogRequire(import.meta.url);` },
  });
  await chmod(file, 0o755);
}

/** True when dist/ exists and no source it was built from changed since. */
export async function isFresh() {
  let built;
  try {
    built = (await stat(join(out, "labhog.mjs"))).mtimeMs;
  } catch {
    return false;
  }
  const sources = JSON.parse(await readFile(join(out, "sources.json"), "utf8").catch(() => "[]"));
  if (!sources.length) return false;
  for (const s of [...sources, "package.json", "scripts/build-agent.mjs"]) {
    const m = await stat(join(root, s)).then((x) => x.mtimeMs, () => Infinity);
    if (m > built) return false;
  }
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const single = process.argv.indexOf("--single");
  if (single !== -1) {
    if (!process.argv[single + 1]) throw new Error("usage: build-agent.mjs --single <file>");
    await buildSingleFile(process.argv[single + 1]);
    process.exit(0);
  }
  if (process.argv.includes("--check")) process.exit((await isFresh()) ? 0 : 1);
  if (process.argv.includes("--if-stale") && (await isFresh())) process.exit(0);
  try {
    await buildAgent({ clean: process.argv.includes("--clean") });
  } catch (e) {
    // `npm ci --omit=dev` runs `prepare` without the dev dependencies: say so, don't fail the install.
    if (!(process.argv.includes("--if-stale") && e?.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("esbuild"))) throw e;
    console.error("labhog: esbuild is not installed (dev dependencies omitted?): edge-agent/dist not built");
  }
}
