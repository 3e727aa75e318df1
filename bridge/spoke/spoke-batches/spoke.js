"use strict";
// What the bridge takes from the Spoke it runs in: `getConfig` (configuration) and
// `getCampaignOffsets` (texting hours), found by relative path from this folder, plus the
// process's clock, `fetch` and log. Each can be replaced (tests, or an admin's own wiring)
// with `configure`.
//
// This folder sits at `extensions/dynamicassignment-batches/spoke-batches/` in both of Spoke's
// layouts: `src/` (run through babel) and `build/server/` (babel's output of `src/`, where
// `src/server/` became `build/server/server/`). Three levels up is `src/` or `build/server/`,
// so `../../../server/api/...` names Spoke's modules in both. Babel compiles Spoke's ES modules
// to CommonJS with named exports on `exports` (and `__esModule`), so a named function is a
// property of the required object; `default` is checked too for a module that exports one.

const path = require("path");

const SPOKE_ROOT = path.join(__dirname, "..", "..", "..");
const SPOKE_CONFIG_MODULE = path.join(SPOKE_ROOT, "server", "api", "lib", "config");
const SPOKE_ASSIGNMENT_MODULE = path.join(SPOKE_ROOT, "server", "api", "assignment");

const overrides = {};
const found = new Map();
let warnedNoOffsets = false;

/** `name` exported by the module at `modulePath`, or null when the module or export is missing. */
function requireSpokeFunction(modulePath, name) {
  const key = `${modulePath}#${name}`;
  if (!found.has(key)) {
    let fn = null;
    try {
      // eslint-disable-next-line global-require, import/no-dynamic-require
      const loaded = require(modulePath);
      const candidate =
        (loaded && loaded[name]) || (loaded && loaded.default && loaded.default[name]);
      fn = typeof candidate === "function" ? candidate : null;
    } catch (error) {
      fn = null;
    }
    found.set(key, fn);
  }
  return found.get(key);
}

/** Spoke's getConfig without Spoke: the process environment, with "" meaning unset. */
function environmentConfig(key) {
  const value = process.env[key];
  return value === "" ? undefined : value;
}

/**
 * Reads a setting. Deliberately with the key only: with no organization, no organization's
 * features can redirect the bridge or supply its token.
 */
function getConfig(key) {
  const spokeGetConfig =
    overrides.getConfig || requireSpokeFunction(SPOKE_CONFIG_MODULE, "getConfig");
  return spokeGetConfig ? spokeGetConfig(key) : environmentConfig(key);
}

/**
 * Spoke's `getCampaignOffsets(campaign, organization, timezoneFilter)`, or null outside Spoke
 * (the caller then falls back to the service's offsets, logged once per process).
 */
function campaignOffsetsFunction(log) {
  const fn =
    overrides.getCampaignOffsets ||
    requireSpokeFunction(SPOKE_ASSIGNMENT_MODULE, "getCampaignOffsets");
  if (!fn && !warnedNoOffsets) {
    warnedNoOffsets = true;
    log(
      `spoke-batches bridge: Spoke's getCampaignOffsets was not found at ${SPOKE_ASSIGNMENT_MODULE} ` +
        "(is this folder in extensions/dynamicassignment-batches/ of Spoke?); texting hours " +
        "come from the spoke-batches service's answer instead"
    );
  }
  return fn;
}

function fetchFunction() {
  return overrides.fetch || globalThis.fetch;
}

function clock() {
  return overrides.now ? overrides.now() : Date.now();
}

function logFunction() {
  // eslint-disable-next-line no-console
  return overrides.log || ((line) => console.error(line));
}

/** The `now` sent to the service (tests pin it); undefined lets the service use its clock. */
function requestTime() {
  return overrides.requestTime ? overrides.requestTime() : undefined;
}

const KNOWN = ["getConfig", "getCampaignOffsets", "fetch", "now", "log", "requestTime"];

/**
 * Replaces dependencies: `{getConfig(key), getCampaignOffsets(campaign, organization, filter),
 * fetch, now() -> ms, log(line), requestTime() -> RFC 3339 | undefined}`; a value of null
 * restores the default.
 */
function configure(replacements) {
  for (const [key, value] of Object.entries(replacements || {})) {
    if (!KNOWN.includes(key)) {
      throw new TypeError(`configure: unknown dependency ${key}; known: ${KNOWN.join(", ")}`);
    }
    if (value == null) {
      delete overrides[key];
    } else if (typeof value !== "function") {
      throw new TypeError(`configure: ${key} must be a function`);
    } else {
      overrides[key] = value;
    }
  }
}

/** Forgets every replacement and what was found (tests). */
function resetDependencies() {
  for (const key of Object.keys(overrides)) {
    delete overrides[key];
  }
  found.clear();
  warnedNoOffsets = false;
}

module.exports = {
  SPOKE_ASSIGNMENT_MODULE,
  SPOKE_CONFIG_MODULE,
  campaignOffsetsFunction,
  clock,
  configure,
  fetchFunction,
  getConfig,
  logFunction,
  requestTime,
  resetDependencies
};
