// What JavaScript authors expect, inside the sandbox. The component has no clock, no
// randomness and no output of its own (every WASI feature is disabled), so:
// - `Date` answers the request's `now` (never the build time frozen in the snapshot);
// - `console.log/info/debug/warn/error` write to the host's log (within its line budget);
// - a thrown `Error` fails the request with its message (componentize-js would trap with none);
// - `Math.random` is deterministic per request: seeded from the request, so the same request
//   draws the same numbers (explain and replay show what the real request did).
// The build wraps each export in `run` (see build.mjs); authors do not call it.

import { log } from "spoke:batches/host@0.1.0";

const SnapshotDate = Date;
let nowMillis = 0;

function RequestDate(...args) {
  if (!new.target) {
    return new SnapshotDate(nowMillis).toString();
  }
  // Reflect.construct keeps `new.target`, so a subclass of Date gets its own prototype.
  return Reflect.construct(SnapshotDate, args.length === 0 ? [nowMillis] : args, new.target);
}
RequestDate.prototype = SnapshotDate.prototype;
RequestDate.now = () => nowMillis;
RequestDate.parse = SnapshotDate.parse;
RequestDate.UTC = SnapshotDate.UTC;
// `date.constructor` is this Date too, so nothing reaches the snapshot's clock through it.
Object.defineProperty(SnapshotDate.prototype, "constructor", {
  value: RequestDate,
  writable: true,
  configurable: true,
});
globalThis.Date = RequestDate;

function show(value) {
  if (typeof value === "string") return value;
  if (value instanceof Error) return `${value.name}: ${value.message}${value.stack ? `\n${value.stack}` : ""}`;
  if (value === null || (typeof value !== "object" && typeof value !== "function")) return String(value);
  if (typeof value === "function") return `[function ${value.name || "anonymous"}]`;
  if (value instanceof Map) return `Map(${show([...value])})`;
  if (value instanceof Set) return `Set(${show([...value])})`;
  try {
    return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v));
  } catch {
    return String(value);
  }
}

function writer(level) {
  return (...values) => log(level, values.map(show).join(" "));
}
globalThis.console = {
  debug: writer("debug"),
  log: writer("info"),
  info: writer("info"),
  warn: writer("warn"),
  error: writer("error"),
};

// mulberry32: small, fast, and enough for tie-breaking; not for secrets.
let randomState = 0;
Math.random = () => {
  randomState = (randomState + 0x6d2b79f5) | 0;
  let t = randomState;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

function seedFrom(request) {
  let seed = 0x811c9dc5;
  for (const part of [request.assignment.id, request.texter.id, request.now.seconds]) {
    for (const char of String(part)) {
      seed = Math.imul(seed ^ char.charCodeAt(0), 0x01000193);
    }
  }
  return (seed ^ request.now.nanoseconds) | 0;
}

/** Runs one export for `request`: its clock, its random seed, and its errors as `err`. */
export function run(request, call) {
  nowMillis = Number(request.now.seconds) * 1000 + Math.floor(request.now.nanoseconds / 1e6);
  randomState = seedFrom(request);
  try {
    return call();
  } catch (error) {
    // componentize-js turns a thrown string into the export's `err`; an Error would trap.
    if (typeof error === "string") throw error;
    if (error instanceof Error) throw error.name === "Error" ? error.message : `${error.name}: ${error.message}`;
    throw show(error);
  }
}
