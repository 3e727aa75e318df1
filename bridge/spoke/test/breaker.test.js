"use strict";
// The circuit breaker, on an injected clock and an injected fetch: 5 transport failures in a
// row open it for 10 s (0 at once, no call), then one probe closes it or keeps it open.

const test = require("node:test");
const assert = require("node:assert/strict");

const { FAILURES_TO_OPEN, OPEN_MS } = require("../spoke-batches/breaker");
const { bridge, decision, spokeArgs, useBridge } = require("./support/fake");

function refused() {
  return new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) });
}

/** A scripted fetch: each call takes the next outcome ("down", "ok", or an HTTP status). */
function scriptedService() {
  const script = [];
  const state = { calls: 0, script };
  state.fetch = async (url, init) => {
    state.calls += 1;
    const outcome = script.length ? script.shift() : "down";
    if (outcome === "down") {
      throw refused();
    }
    const status = outcome === "ok" ? 200 : outcome;
    const body = status === 200 ? decision({ count: 3, strategy: JSON.parse(init.body).strategy }) : { error: { code: "UNAUTHORIZED", message: "wrong token" } };
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
  return state;
}

function setUp() {
  const clock = { now: 1_000_000 };
  const service = scriptedService();
  const { lines } = useBridge({ url: "http://127.0.0.1:9", fetch: service.fetch, now: () => clock.now });
  return { clock, service, lines };
}

const folders = [
  bridge.strategy({ name: "all-texters", strategy: "all-texters" }),
  bridge.strategy({ name: "vetted-texters", strategy: "vetted-texters" })
];

/** A batch count request on strategy folder `index % 2` (the breaker is shared by all folders). */
function ask(index = 0) {
  const module = folders[index % 2];
  return module.requestNewBatchCount(spokeArgs());
}

test("the numbers of the brief", () => {
  assert.equal(FAILURES_TO_OPEN, 5);
  assert.equal(OPEN_MS, 10000);
});

test("opens after 5 transport failures in a row across strategy folders, logging it once", async () => {
  const { service, lines } = setUp();
  for (let index = 0; index < 4; index += 1) {
    assert.equal(await ask(index), 0);
  }
  assert.equal(lines.length, 4);
  assert.ok(lines.every((line) => !/circuit breaker/.test(line)));
  assert.equal(await ask(4), 0);
  assert.equal(lines.length, 5);
  assert.match(lines[4], /code UNREACHABLE: .*; answered 0; circuit breaker opened after 5 transport failures in a row: answering 0 at once for 10 s/);
  // Open: answered at once, no call, no line each.
  service.script.push("ok");
  for (let index = 0; index < 3; index += 1) {
    assert.equal(await ask(index), 0);
  }
  assert.equal(service.calls, 5);
  assert.equal(lines.length, 5);
});

test("after 10 s one probe: a failed probe keeps it open, an answered probe closes it", async () => {
  const { clock, service, lines } = setUp();
  for (let index = 0; index < 5; index += 1) {
    await ask(index);
  }
  clock.now += OPEN_MS - 1;
  assert.equal(await ask(), 0);
  assert.equal(service.calls, 5, "still open 1 ms before the end");

  clock.now += 1;
  assert.equal(await ask(), 0, "the probe fails");
  assert.equal(service.calls, 6);
  assert.equal(lines.length, 6);
  assert.match(lines[5], /code UNREACHABLE: .*circuit breaker stays open: the probe failed; next probe in 10 s$/);
  assert.equal(await ask(), 0);
  assert.equal(service.calls, 6, "open again");

  clock.now += OPEN_MS;
  service.script.push("ok");
  assert.equal(await ask(), 3, "the probe is answered");
  assert.equal(service.calls, 7);
  assert.equal(lines.length, 7);
  assert.match(lines[6], /^spoke-batches bridge: circuit breaker closed: the service answered the probe \(2 calls were answered 0/);
  service.script.push("ok");
  assert.equal(await ask(), 3, "closed");
  assert.equal(lines.length, 7);
});

test("while the probe is in flight the other calls answer 0 at once", async () => {
  const { clock, service } = setUp();
  for (let index = 0; index < 5; index += 1) {
    await ask(index);
  }
  clock.now += OPEN_MS;
  let release;
  const gate = new Promise((resolve) => {
    release = resolve;
  });
  const plain = service.fetch;
  bridge.configure({
    fetch: async (...parameters) => {
      await gate;
      return plain(...parameters);
    }
  });
  service.script.push("ok");
  const probe = ask();
  assert.equal(await ask(), 0);
  assert.equal(await ask(1), 0);
  release();
  assert.equal(await probe, 3);
  assert.equal(service.calls, 6);
});

test("an HTTP answer of any status is not a transport failure and resets the run", async () => {
  const { service, lines } = setUp();
  service.script.push("down", "down", "down", "down", 401, "down", "down", "down", "down");
  for (let index = 0; index < 9; index += 1) {
    assert.equal(await ask(index), 0);
  }
  assert.equal(service.calls, 9);
  assert.ok(lines.every((line) => !/circuit breaker/.test(line)), lines.join("\n"));
  assert.match(lines[4], /HTTP status 401, code UNAUTHORIZED: wrong token/);
  // The tenth in a row after the 401 is the fifth transport failure: open.
  await ask();
  assert.match(lines[9], /circuit breaker opened/);
});

test("configuration errors never reach the breaker", async () => {
  const { service, lines } = setUp();
  bridge.configure({ getConfig: () => undefined });
  for (let index = 0; index < 7; index += 1) {
    assert.equal(await ask(index), 0);
  }
  assert.equal(service.calls, 0);
  assert.equal(lines.length, 7);
  assert.ok(lines.every((line) => /code NOT_CONFIGURED: SPOKE_BATCHES_URL is not set/.test(line)));
});
