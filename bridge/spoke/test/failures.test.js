"use strict";
// Fail closed, never throw: every way the service can fail answers 0 (or a batch query that
// matches nothing) with exactly one log line naming the strategy, the assignment, the HTTP
// status, the code and the message.

const test = require("node:test");
const assert = require("node:assert/strict");
const http = require("http");

const {
  bridge,
  decision,
  sendJson,
  spokeArgs,
  spokeQueries,
  startFakeService,
  useBridge
} = require("./support/fake");

let service;
let respond;

test.before(async () => {
  service = await startFakeService((request, response, body) => respond(request, response, body));
});
test.after(() => service.close());
test.beforeEach(() => {
  service.requests.length = 0;
});

function policy() {
  return bridge.strategy({ name: "sb-vetted-texters", strategy: "vetted-texters", displayName: "Vetted" });
}

/** The common parts of every failure line. */
function assertFailureLine(line, { status, code, message, call = "requestNewBatchCount" }) {
  assert.match(line, /^spoke-batches bridge: strategy sb-vetted-texters \(spoke-batches strategy vetted-texters\) /);
  assert.match(line, new RegExp(`assignment 41 ${call.replace(/[()]/g, "\\$&")}: `));
  assert.match(line, new RegExp(`HTTP status ${status}, `));
  assert.match(line, new RegExp(`code ${code}: `));
  assert.match(line, message);
  assert.doesNotMatch(line, /\n/);
}

async function countFails(expected, options = {}) {
  const { lines } = useBridge({ url: service.url, ...options });
  const count = await policy().requestNewBatchCount(spokeArgs());
  assert.equal(count, 0);
  assert.equal(lines.length, 1, lines.join("\n"));
  assertFailureLine(lines[0], expected);
  assert.match(lines[0], /answered 0$/);
}

async function freePortUrl() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

test("service down: 0 and one line with no HTTP status", async () => {
  const { lines } = useBridge({ url: await freePortUrl() });
  assert.equal(await policy().requestNewBatchCount(spokeArgs()), 0);
  assert.equal(lines.length, 1);
  assertFailureLine(lines[0], { status: "none", code: "UNREACHABLE", message: /cannot reach http:\/\/127\.0\.0\.1:\d+\/v1\/assignments\/41\/decision: ECONNREFUSED/ });
});

test("service slow beyond the timeout: 0 within the timeout and one line", async () => {
  respond = () => {}; // never answers
  const started = Date.now();
  await countFails(
    { status: "none", code: "TIMEOUT", message: /within SPOKE_BATCHES_TIMEOUT_MS=80 ms/ },
    { timeoutMs: 80 }
  );
  assert.ok(Date.now() - started < 1500, "answered within the timeout, not later");
});

test("a body that never ends counts as slow too", async () => {
  respond = (request, response) => {
    response.writeHead(200, { "Content-Type": "application/json" });
    response.write('{"strategy":');
  };
  await countFails({ status: 200, code: "TIMEOUT", message: /no complete answer/ }, { timeoutMs: 80 });
});

test("4xx answers pass the service's code and message through", async () => {
  const cases = [
    [401, "UNAUTHORIZED", "missing or wrong bearer token"],
    [400, "UNKNOWN_STRATEGY", "no strategy vetted-texters is loaded; loaded: all-texters"],
    [403, "FORBIDDEN", "not your assignment"],
    [404, "NOT_FOUND", "no assignment 41"],
    [422, "STRATEGY_FAILED", "strategy `vetted-texters` (version 0c1d) failed: it trapped"]
  ];
  for (const [status, code, message] of cases) {
    respond = (request, response) => sendJson(response, status, { error: { code, message } });
    await countFails({ status, code, message: new RegExp(message.replace(/[()`]/g, ".")) });
  }
});

test("5xx answers, with the service's JSON or a proxy's page", async () => {
  respond = (request, response) => sendJson(response, 503, { error: { code: "DATABASE", message: "database unavailable" } });
  await countFails({ status: 503, code: "DATABASE", message: /database unavailable/ });
  respond = (request, response) => {
    response.writeHead(502, { "Content-Type": "text/html" });
    response.end("<html>\n<body>Bad Gateway</body>\n</html>");
  };
  await countFails({ status: 502, code: "HTTP_502", message: /<html> <body>Bad Gateway/ });
});

test("malformed answers: 0 and one line each", async () => {
  const cases = [
    ["not json", /the answer is not JSON: not json/],
    [[1, 2], /not a JSON object/],
    [decision({ count: -1 }), /count is -1/],
    [decision({ count: "250" }), /count is "250"/],
    [decision({ count: 1.5 }), /count is 1\.5/],
    [decision({ strategy: "all-texters" }), /for strategy "all-texters", not vetted-texters/],
    [decision({ plan: null }), /a batch answer has no plan/],
    [decision({ plan: { numberContacts: 5 } }), /plan is \{"numberContacts":5\}/],
    [decision({ selection: null }), /the plan asks for 100 contacts but the answer has no selection/],
    [decision({ claimOrder: 7 }), /claimOrder must be a string/],
    [decision({ offsets: { valid: "-5_1", invalid: [] } }), /offsets must be/]
  ];
  for (const [answer, message] of cases) {
    respond = (request, response) => sendJson(response, 200, answer);
    await countFails({ status: 200, code: "MALFORMED_ANSWER", message });
  }
});

test("a junk descriptor fails the whole answer closed", async () => {
  const junk = [
    [{ batchQuery: { filter: { status: { kind: "any" }, assignment: "any", optedOut: false, timezone: "any" }, limit: null }, hasCurrentQuery: null }, /only claim unassigned/],
    [{ batchQuery: { filter: "everything", limit: null }, hasCurrentQuery: null }, /must be a filter object/],
    [{ batchQuery: null, hasCurrentQuery: { status: { kind: "oneOf", statuses: ["sent"] }, assignment: "thisAssignment", optedOut: false, timezone: "any" } }, /unknown statuses/],
    [{ batchQuery: { filter: { status: { kind: "any" }, assignment: "unassigned", optedOut: false, timezone: "any", sql: "1=1" }, limit: null } }, /unknown fields sql/],
    [{ batchQuery: { filter: { status: { kind: "any" }, assignment: "unassigned", optedOut: false, timezone: "any" }, limit: 101 } }, /limit is 101/]
  ];
  for (const [selection, message] of junk) {
    respond = (request, response) => sendJson(response, 200, decision({ selection }));
    await countFails({ status: 200, code: "INVALID_DESCRIPTOR", message });
  }
});

test("a failure in selectContacts's own call: a batch query that matches nothing and one line", async () => {
  respond = (request, response) => sendJson(response, 422, { error: { code: "STRATEGY_FAILED", message: "select-contacts failed" } });
  const { lines } = useBridge({ url: service.url });
  const args = spokeArgs({ numberContacts: 20, contactsCount: 0 });
  const { batchQuery, hasCurrentQuery } = spokeQueries(20, args);
  const selection = await policy().selectContacts(batchQuery, hasCurrentQuery, args);
  assert.deepEqual(Object.keys(selection), ["batchQuery"]);
  assert.equal(selection.batchQuery.toSQL().sql, 'select "id" from "campaign_contact" where "campaign_id" = ? and 1 = 0 limit ? for update');
  assert.deepEqual(selection.batchQuery.toSQL().bindings, [3, 0]);
  assert.equal(lines.length, 1);
  assertFailureLine(lines[0], { status: 422, code: "STRATEGY_FAILED", message: /select-contacts failed; the batch query matches nothing$/, call: "selectContacts" });
});

test("a plan answered for another plan is refused", async () => {
  respond = (request, response) => sendJson(response, 200, decision({ plan: { numberContacts: 100, contactsCount: 12 } }));
  const { lines } = useBridge({ url: service.url });
  const args = spokeArgs({ numberContacts: 20, contactsCount: 12 });
  const { batchQuery, hasCurrentQuery } = spokeQueries(20, args);
  const selection = await policy().selectContacts(batchQuery, hasCurrentQuery, args);
  assert.match(selection.batchQuery.toSQL().sql, /1 = 0/);
  assert.equal(lines.length, 1);
  assertFailureLine(lines[0], { status: 200, code: "MALFORMED_ANSWER", message: /is not the plan sent/, call: "selectContacts" });
});

test("Spoke's getCampaignOffsets failing fails the claim closed", async () => {
  respond = (request, response) =>
    sendJson(response, 200, decision({
      plan: { numberContacts: 20, contactsCount: 12 },
      selection: { batchQuery: { filter: { status: { kind: "any" }, assignment: "unassigned", optedOut: false, timezone: "validNow" }, limit: null }, hasCurrentQuery: null }
    }));
  const { lines } = useBridge({ url: service.url });
  bridge.configure({ getCampaignOffsets: () => { throw new Error("no organization hours"); } });
  const args = spokeArgs({ numberContacts: 20, contactsCount: 12 });
  const { batchQuery, hasCurrentQuery } = spokeQueries(20, args);
  const selection = await policy().selectContacts(batchQuery, hasCurrentQuery, args);
  assert.match(selection.batchQuery.toSQL().sql, /1 = 0 limit \? for update$/);
  assert.equal(selection.batchQuery.toSQL().bindings.at(-1), 0);
  assert.equal(lines.length, 1);
  assertFailureLine(lines[0], { status: "none", code: "SPOKE_OFFSETS", message: /no organization hours/, call: "selectContacts" });
});

test("arguments Spoke would never send still answer 0 without throwing", async () => {
  respond = (request, response) => sendJson(response, 200, decision());
  const { lines } = useBridge({ url: service.url });
  const module = policy();
  assert.equal(await module.requestNewBatchCount(undefined), 0);
  assert.equal(await module.requestNewBatchCount({}), 0);
  assert.equal(await module.requestNewBatchCount(spokeArgs({ assignment: { id: "x" } })), 0);
  assert.equal(await module.requestNewBatchCount(spokeArgs({ texter: null, assignment: { id: 41 } })), 0);
  const weird = await module.selectContacts(undefined, undefined, undefined);
  assert.deepEqual(weird, { batchQuery: [] });
  const args = spokeArgs({ numberContacts: 2.5, contactsCount: 0 });
  const { batchQuery } = spokeQueries(2, args);
  assert.match((await module.selectContacts(batchQuery, null, args)).batchQuery.toSQL().sql, /1 = 0/);
  assert.equal(service.requests.length, 0);
  assert.equal(lines.length, 6);
  assert.ok(lines.every((line) => / code (BAD_ARGUMENTS|INTERNAL): /.test(line)), lines.join("\n"));
});

test("a logger that throws does not make the bridge throw", async () => {
  useBridge({ url: await freePortUrl() });
  bridge.configure({ log: () => { throw new Error("log sink down"); } });
  assert.equal(await policy().requestNewBatchCount(spokeArgs()), 0);
});
