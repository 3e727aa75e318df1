"use strict";
// Configuration: read with Spoke's getConfig and no organization, so an organization's
// features can neither redirect the bridge nor give it a token; the settings' checks.

const test = require("node:test");
const assert = require("node:assert/strict");

const { DEFAULT_TIMEOUT_MS, readSettings } = require("../spoke-batches/settings");
const { bridge, decision, sendJson, spokeArgs, startFakeService, useBridge } = require("./support/fake");

/** Spoke's getConfig semantics: organization features first, then global, then the environment. */
function spokeLikeGetConfig(environment) {
  return (key, organization) => {
    if (organization) {
      const features = JSON.parse(organization.features || "{}");
      if (Object.prototype.hasOwnProperty.call(features, key)) {
        return features[key] === "" ? undefined : features[key];
      }
    }
    return environment[key] === "" ? undefined : environment[key];
  };
}

let real;
let rogue;
test.before(async () => {
  real = await startFakeService((request, response, body) => sendJson(response, 200, decision({ strategy: body.strategy, count: 9 })));
  rogue = await startFakeService((request, response, body) => sendJson(response, 200, decision({ strategy: body.strategy, count: 500 })));
});
test.after(async () => {
  await real.close();
  await rogue.close();
});

test("getConfig is asked with the key alone, never with an organization", async () => {
  const { config } = useBridge({ url: real.url });
  await bridge.strategy({ name: "all-texters", strategy: "all-texters" }).requestNewBatchCount(spokeArgs());
  assert.deepEqual(
    config.calls.map((call) => call.length),
    config.calls.map(() => 1)
  );
  assert.deepEqual(config.calls.map(([key]) => key).sort(), [
    "SPOKE_BATCHES_TIMEOUT_MS",
    "SPOKE_BATCHES_TOKEN",
    "SPOKE_BATCHES_URL"
  ]);
});

test("an organization's features can neither redirect the bridge nor supply its token", async () => {
  useBridge({ url: real.url });
  bridge.configure({
    getConfig: spokeLikeGetConfig({ SPOKE_BATCHES_URL: real.url, SPOKE_BATCHES_TOKEN: "process-token-0123456789" })
  });
  const organization = {
    id: 1,
    features: JSON.stringify({
      SPOKE_BATCHES_URL: rogue.url,
      SPOKE_BATCHES_TOKEN: "organization-token-0123456789",
      SPOKE_BATCHES_TIMEOUT_MS: "1"
    })
  };
  const count = await bridge
    .strategy({ name: "all-texters", strategy: "all-texters" })
    .requestNewBatchCount(spokeArgs({ organization }));
  assert.equal(count, 9);
  assert.equal(rogue.requests.length, 0);
  assert.equal(real.requests.at(-1).headers.authorization, "Bearer process-token-0123456789");
});

test("without Spoke's getConfig the process environment is read, and \"\" is unset", async () => {
  const saved = { url: process.env.SPOKE_BATCHES_URL, token: process.env.SPOKE_BATCHES_TOKEN };
  try {
    const { lines } = useBridge({ url: real.url });
    bridge.configure({ getConfig: null }); // Spoke's config module is not found from the tests
    process.env.SPOKE_BATCHES_URL = real.url;
    process.env.SPOKE_BATCHES_TOKEN = "environment-token-0123456789";
    const module = bridge.strategy({ name: "all-texters", strategy: "all-texters" });
    assert.equal(await module.requestNewBatchCount(spokeArgs()), 9);
    assert.equal(real.requests.at(-1).headers.authorization, "Bearer environment-token-0123456789");
    process.env.SPOKE_BATCHES_URL = "";
    assert.equal(await module.requestNewBatchCount(spokeArgs()), 0);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /code NOT_CONFIGURED: SPOKE_BATCHES_URL is not set/);
  } finally {
    for (const [key, value] of [["SPOKE_BATCHES_URL", saved.url], ["SPOKE_BATCHES_TOKEN", saved.token]]) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
});

test("no token: no Authorization header (a loopback service without a token)", async () => {
  useBridge({ url: real.url, token: undefined });
  await bridge.strategy({ name: "all-texters", strategy: "all-texters" }).requestNewBatchCount(spokeArgs());
  assert.equal(real.requests.at(-1).headers.authorization, undefined);
});

test("the service's path is appended to the URL's own path", async () => {
  useBridge({ url: `${real.url}/spoke-batches/` });
  await bridge.strategy({ name: "all-texters", strategy: "all-texters" }).requestNewBatchCount(spokeArgs());
  assert.equal(real.requests.at(-1).url, "/spoke-batches/v1/assignments/41/decision");
});

test("settings: the default timeout, and clear errors for bad values", () => {
  const settings = (values) => readSettings((key) => values[key]);
  assert.deepEqual(settings({ SPOKE_BATCHES_URL: "http://127.0.0.1:8080" }), {
    base: "http://127.0.0.1:8080",
    token: null,
    timeoutMs: DEFAULT_TIMEOUT_MS
  });
  assert.equal(DEFAULT_TIMEOUT_MS, 1500);
  assert.equal(settings({ SPOKE_BATCHES_URL: "https://batches.internal", SPOKE_BATCHES_TIMEOUT_MS: "250" }).timeoutMs, 250);
  assert.equal(settings({ SPOKE_BATCHES_URL: "https://batches.internal", SPOKE_BATCHES_TIMEOUT_MS: 300 }).timeoutMs, 300);
  const refused = [
    [{}, "NOT_CONFIGURED", /SPOKE_BATCHES_URL is not set/],
    [{ SPOKE_BATCHES_URL: "" }, "NOT_CONFIGURED", /SPOKE_BATCHES_URL is not set/],
    [{ SPOKE_BATCHES_URL: "127.0.0.1:8080" }, "BAD_CONFIG", /must be an http:\/\/ or https:\/\/ URL/],
    [{ SPOKE_BATCHES_URL: "ftp://host" }, "BAD_CONFIG", /must be an http/],
    [{ SPOKE_BATCHES_URL: "http://host/?a=1" }, "BAD_CONFIG", /without a query/],
    [{ SPOKE_BATCHES_URL: "http://host", SPOKE_BATCHES_TIMEOUT_MS: "fast" }, "BAD_CONFIG", /SPOKE_BATCHES_TIMEOUT_MS is "fast"/],
    [{ SPOKE_BATCHES_URL: "http://host", SPOKE_BATCHES_TIMEOUT_MS: "0" }, "BAD_CONFIG", /from 1 to 60000/],
    [{ SPOKE_BATCHES_URL: "http://host", SPOKE_BATCHES_TIMEOUT_MS: "1.5" }, "BAD_CONFIG", /from 1 to 60000/]
  ];
  for (const [values, code, message] of refused) {
    assert.throws(() => settings(values), (error) => error.code === code && message.test(error.message), JSON.stringify(values));
  }
});

test("configure refuses unknown dependencies and non-functions", () => {
  assert.throws(() => bridge.configure({ getconfig: () => 1 }), /unknown dependency getconfig/);
  assert.throws(() => bridge.configure({ fetch: "fetch" }), /fetch must be a function/);
});
