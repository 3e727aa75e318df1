"use strict";
// The bridge's three settings, read through Spoke's getConfig with no organization (global,
// then the process environment, then CONFIG_FILE): an organization's features can never point
// the bridge elsewhere or hand it a token.

const { BridgeFailure, Codes } = require("./failure");

const DEFAULT_TIMEOUT_MS = 1500;
const MAX_TIMEOUT_MS = 60000;

function present(value) {
  return value !== undefined && value !== null && value !== "";
}

/**
 * `{url, token, timeoutMs}` from `getConfig(key)`, or a BridgeFailure naming the setting and
 * what to set it to.
 */
function readSettings(getConfig) {
  const rawUrl = getConfig("SPOKE_BATCHES_URL");
  if (!present(rawUrl)) {
    throw new BridgeFailure(
      Codes.NOT_CONFIGURED,
      "SPOKE_BATCHES_URL is not set: set it (environment or CONFIG_FILE, never organization " +
        "features) to the spoke-batches service, for example http://127.0.0.1:8080"
    );
  }
  let url;
  try {
    url = new URL(String(rawUrl).trim());
  } catch (error) {
    url = null;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || url.search || url.hash) {
    throw new BridgeFailure(
      Codes.BAD_CONFIG,
      `SPOKE_BATCHES_URL is ${JSON.stringify(String(rawUrl))}: it must be an http:// or https:// URL without a query or fragment`
    );
  }
  const rawToken = getConfig("SPOKE_BATCHES_TOKEN");
  const token = present(rawToken) ? String(rawToken).trim() : null;

  const rawTimeout = getConfig("SPOKE_BATCHES_TIMEOUT_MS");
  let timeoutMs = DEFAULT_TIMEOUT_MS;
  if (present(rawTimeout)) {
    const text = String(rawTimeout).trim();
    timeoutMs = /^[0-9]+$/.test(text) ? Number(text) : NaN;
    if (!(timeoutMs >= 1 && timeoutMs <= MAX_TIMEOUT_MS)) {
      throw new BridgeFailure(
        Codes.BAD_CONFIG,
        `SPOKE_BATCHES_TIMEOUT_MS is ${JSON.stringify(text)}: it must be a whole number of ` +
          `milliseconds from 1 to ${MAX_TIMEOUT_MS} (default ${DEFAULT_TIMEOUT_MS})`
      );
    }
  }
  // The service's paths are appended to the URL's own path (a service behind a prefix).
  const base = url.href.replace(/\/+$/, "");
  return { base, token, timeoutMs };
}

module.exports = { DEFAULT_TIMEOUT_MS, readSettings };
