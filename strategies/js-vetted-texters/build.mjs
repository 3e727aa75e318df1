// Builds a JavaScript strategy into a WebAssembly component, <out>/<name>.wasm, with every WASI
// feature disabled so it imports nothing but the strategy's host functions. The engine is
// componentize-js (SpiderMonkey), or componentize-qjs (QuickJS) for a package whose
// package.json says "spokeBatches": { "engine": "quickjs" } and installs componentize-qjs:
//   node build.mjs [OUT]                    this package (default OUT: strategies/dist, served)
//   node build.mjs --package DIR [OUT]      another package using this toolchain
//   node build.mjs --watch [--packages DIR] [OUT]
//                                           every package in DIR (default: strategies/), and
//                                           again on each save
// Skips the build when the component is newer than every input. Run by `make strategies` (for
// every package in strategies/, after `npm ci`), by `npm run build` in a package, and with
// --watch by `make dev`: one process keeps the toolchain loaded, so a rebuild after a save takes
// about 2 s instead of the 6 s a fresh process spends loading it.
import { componentize } from "@bytecodealliance/componentize-js";
import { spawnSync } from "node:child_process";
import { existsSync, statSync, watch } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const usage = "node build.mjs [--package DIR | --watch [--packages DIR]] [OUT]";

/** A build that cannot go on, with what to do about it. */
class BuildError extends Error {}

/** Whether this process has run componentize-js (loading its WebAssembly takes seconds). */
let toolchainLoaded = false;

let packageDir = here;
let outArg;
let watching = false;
let packagesDir;
const args = process.argv.slice(2);
for (let index = 0; index < args.length; index++) {
  if (args[index] === "--package") {
    if (!args[index + 1]) exit(`--package needs a folder: ${usage}`);
    packageDir = resolve(args[++index]);
  } else if (args[index] === "--watch") {
    watching = true;
  } else if (args[index] === "--packages") {
    if (!args[index + 1]) exit(`--packages needs a folder: ${usage}`);
    packagesDir = resolve(args[++index]);
  } else if (args[index].startsWith("-") || outArg !== undefined) {
    exit(`unexpected argument ${args[index]}: ${usage}`);
  } else {
    outArg = args[index];
  }
}

if (watching) {
  const root = repositoryRoot(here);
  await watchPackages(packagesDir ?? join(root, "strategies"), outArg ? resolve(outArg) : join(root, "strategies", "dist"));
} else if (packagesDir) {
  exit(`--packages goes with --watch: ${usage}`);
} else {
  try {
    await build(packageDir, outArg);
  } catch (error) {
    if (error instanceof BuildError) exit(error.message);
    throw error;
  }
}

/** Builds the package in `packageDir` into `outArg` (default: the repository's strategies/dist). */
async function build(packageDir, outArg) {
  const folder = basename(packageDir);
  const shown = relative(process.cwd(), packageDir) || ".";
  if (!existsSync(join(packageDir, "package.json"))) {
    throw new BuildError(`${shown} has no package.json: a JavaScript strategy is a package (spoke-batches new NAME --lang js makes one)`);
  }
  const { name, spokeBatches } = JSON.parse(await readFile(join(packageDir, "package.json"), "utf8"));
  const engine = spokeBatches?.engine ?? "spidermonkey";
  if (engine !== "spidermonkey" && engine !== "quickjs") {
    throw new BuildError(`${shown}/package.json: "spokeBatches": { "engine": "${engine}" } is not an engine; use "spidermonkey" (componentize-js, the default) or "quickjs" (componentize-qjs)`);
  }
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(folder)) {
    throw new BuildError(`${shown}: a strategy name uses lowercase letters, digits and single '-', starting with a letter; rename the directory`);
  }
  if (name !== folder) {
    throw new BuildError(`${shown}/package.json names the package "${name}" but its directory is "${folder}": set "name": "${folder}" in ${shown}/package.json (the directory, the package name and name() must agree)`);
  }

  // componentize-js resolves a module's relative imports only inside its working folder, so it
  // runs in the repository root (the folder holding wit/).
  const root = repositoryRoot(packageDir, shown);
  const wit = join(root, "wit", "0.1.0");
  // The folder the host serves by default, as for a Rust strategy.
  const dist = outArg ? resolve(outArg) : join(root, "strategies", "dist");
  const out = join(dist, `${name}.wasm`);
  // A TypeScript package (a tsconfig.json) is type-checked and compiled by its own tsc first.
  const typescript = existsSync(join(packageDir, "tsconfig.json"));
  const inputs = [
    join(packageDir, "package.json"),
    ...(typescript
      ? [join(packageDir, "tsconfig.json"), join(packageDir, "package-lock.json"), ...(await files(join(packageDir, "types")))]
      : []),
    join(here, "package-lock.json"),
    join(here, "build.mjs"),
    ...(await files(join(packageDir, "src"))),
    ...(await files(join(here, "src"))),
    ...(await files(wit)),
  ];
  const built = await modified(out);
  if (built > 0 && (await Promise.all(inputs.map(modified))).every((time) => time < built)) {
    console.log(`${out} is up to date`);
    return;
  }

  if (typescript) {
    const tsc = join(packageDir, "node_modules", ".bin", "tsc");
    const checked = spawnSync(tsc, ["-p", packageDir], { stdio: "inherit" });
    if (checked.error) throw new BuildError(`cannot run ${tsc} (${checked.error.message}): run npm ci in ${shown}`);
    if (checked.status !== 0) throw new BuildError(`${shown}: TypeScript found the errors above; nothing was built`);
  }
  const strategyModule = typescript ? "./js/strategy.js" : "../src/strategy.js";

  // The component's exports: name() from package.json, the author's functions run by the prelude.
  await mkdir(join(packageDir, ".build"), { recursive: true });
  const main = join(packageDir, ".build", "main.js");
  await writeFile(
    main,
    `// Generated by build.mjs from package.json and the package's strategy module; do not edit.
import { run } from "../src/prelude.js";
import * as strategy from "${strategyModule}";
export function name() { return ${JSON.stringify(name)}; }
export function displayName() { return strategy.displayName(); }
export function requestNewBatchCount(request) { return run(request, () => strategy.requestNewBatchCount(request)); }
export function selectContacts(request, plan) { return run(request, () => strategy.selectContacts(request, plan)); }
`,
  );

  // The component is stamped with this start, so a source saved during the build is newer.
  const started = Date.now();
  const { component } =
    engine === "quickjs"
      ? await quickjs(packageDir, shown, main, root, wit)
      : await inFolder(root, () =>
          componentize({
            sourcePath: relative(root, main),
            witPath: wit,
            worldName: "strategy",
            disableFeatures: ["stdio", "random", "clocks", "http", "fetch-event"],
          }),
        );
  toolchainLoaded ||= engine !== "quickjs";
  await mkdir(dist, { recursive: true });
  await writeFile(`${out}.tmp`, component);
  await rename(`${out}.tmp`, out);
  await utimes(out, started / 1000, started / 1000);
  console.log(`built ${out} (${component.length} bytes) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** The repository root above `folder` (the folder holding wit/0.1.0). */
function repositoryRoot(folder, shown = folder) {
  let root = folder;
  while (!existsSync(join(root, "wit", "0.1.0"))) {
    if (dirname(root) === root) throw new BuildError(`${shown} is not inside the spoke-batches repository (no wit/0.1.0 above it)`);
    root = dirname(root);
  }
  return root;
}

/** Runs `work` with `folder` as the working folder, then goes back. */
async function inFolder(folder, work) {
  const previous = process.cwd();
  process.chdir(folder);
  try {
    return await work();
  } finally {
    process.chdir(previous);
  }
}

// componentize-qjs, from the package's own node_modules: the synchronous runtime (the host calls
// exports without the component model's async ABI), every WASI import replaced by a trap.
async function quickjs(packageDir, shown, main, root, wit) {
  let entry;
  try {
    entry = createRequire(join(packageDir, "package.json")).resolve("componentize-qjs");
  } catch {
    throw new BuildError(`${shown} builds with componentize-qjs, which is not installed there: add it to its devDependencies and run npm ci in ${shown}`);
  }
  const { componentize: componentizeQjs } = await import(pathToFileURL(entry).href);
  return componentizeQjs({
    witPath: wit,
    jsSource: await readFile(main, "utf8"),
    jsPath: main,
    moduleRoot: root,
    world: "strategy",
    stubWasi: true,
    sync: true,
  });
}

/**
 * Builds every package in `strategies` into `dist`, then again whenever a file of one changes
 * (its package.json, tsconfig.json, src/ or types/; a package added later included), one build
 * at a time, until stopped. A failed build prints its error and the watch goes on.
 */
async function watchPackages(strategies, dist) {
  const pending = new Set();
  let running = false;
  let timer;
  const packages = async () =>
    (await readdir(strategies, { withFileTypes: true }))
      .filter((entry) => entry.isDirectory() && existsSync(join(strategies, entry.name, "package.json")))
      .map((entry) => join(strategies, entry.name));
  const drain = async () => {
    if (running) return;
    running = true;
    while (pending.size > 0) {
      const [next] = pending;
      pending.delete(next);
      try {
        await build(next, dist);
      } catch (error) {
        console.error(`error: ${error instanceof BuildError ? error.message : (error?.stack ?? error)}`);
      }
    }
    running = false;
  };
  for (const found of await packages()) pending.add(found);
  await drain();
  if (!toolchainLoaded) {
    // Everything was up to date: one build into a scratch folder loads componentize-js now,
    // so the first save does not wait for it.
    const scratch = await mkdtemp(join(tmpdir(), "spoke-batches-warm-"));
    const [first] = await packages();
    if (first) await build(first, scratch).catch(() => {});
    await rm(scratch, { recursive: true, force: true });
  }

  // One watch per folder (Node's recursive watch on Linux loses files an editor replaces by
  // renaming): the strategies folder (packages added later), each package's folder (its
  // package.json and tsconfig.json) and every folder under its src/ and types/.
  const watched = new Map();
  const watchFolder = (folder) => {
    if (watched.has(folder) || !existsSync(folder)) return;
    try {
      const watcher = watch(folder, (_, file) => file && changed(folder, file));
      watcher.on("error", () => {
        watcher.close();
        watched.delete(folder);
      });
      watched.set(folder, watcher);
    } catch {
      // The folder went away meanwhile.
    }
  };
  const watchTree = async (folder) => {
    watchFolder(folder);
    if (!existsSync(folder)) return;
    for (const entry of await readdir(folder, { recursive: true, withFileTypes: true })) {
      if (entry.isDirectory()) watchFolder(join(entry.parentPath, entry.name));
    }
  };
  const watchPackage = async (folder) => {
    watchFolder(folder);
    await watchTree(join(folder, "src"));
    await watchTree(join(folder, "types"));
  };
  const changed = (folder, file) => {
    const path = join(folder, file);
    if (folder === strategies) {
      if (isFolder(path)) watchPackage(path);
      return;
    }
    const [name, ...rest] = relative(strategies, path).split(sep);
    const inside = rest.join("/");
    const source =
      ["package.json", "tsconfig.json"].includes(inside) || /^(src|types)(\/|$)/.test(inside);
    if (!source) return;
    if (isFolder(path)) watchTree(path);
    if (!existsSync(join(strategies, name, "package.json"))) return;
    pending.add(join(strategies, name));
    // A burst of saves (an editor writes, renames and touches) starts one build.
    clearTimeout(timer);
    timer = setTimeout(drain, 150);
  };
  watchFolder(strategies);
  for (const entry of await readdir(strategies, { withFileTypes: true })) {
    if (entry.isDirectory()) await watchPackage(join(strategies, entry.name));
  }
  console.log(`watching the JavaScript and TypeScript strategies in ${relative(process.cwd(), strategies) || "."}`);
}

function isFolder(path) {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

async function files(folder) {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

async function modified(path) {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

function exit(message) {
  console.error(`error: ${message}`);
  process.exit(1);
}
