// Regenerates types/ (TypeScript declarations of the host imports, the exports and every WIT
// type) from wit/0.1.0 with jco's bindings generator: `npm run types`. The declarations are
// committed: a wrong enum string or field is a compile error in `make js-strategies`.
import { $init, generateTypes } from "@bytecodealliance/jco-transpile/component";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
await $init;
const wit = await readFile(join(here, "..", "..", "wit", "0.1.0", "strategy.wit"), "utf8");
const files = generateTypes("strategy", { wit: { tag: "source", val: wit }, world: "strategy", guest: true });
for (const [name, bytes] of files) {
  const path = join(here, "types", name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  console.log(`wrote types/${name}`);
}
