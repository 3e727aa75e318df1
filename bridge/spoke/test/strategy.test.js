"use strict";
// The strategy module Spoke loads: the calls it makes to the decision endpoint, what it keeps
// between requestNewBatchCount and selectContacts, and the queries it hands back to Spoke.

const test = require("node:test");
const assert = require("node:assert/strict");

const {
  bridge,
  decision,
  sendJson,
  spokeArgs,
  spokeQueries,
  startFakeService,
  useBridge
} = require("./support/fake");

const TOKEN = "0123456789abcdef-token";
let service;
let answers;

test.before(async () => {
  service = await startFakeService((request, response, body) => {
    const next = answers.length > 1 ? answers.shift() : answers[0];
    sendJson(response, 200, typeof next === "function" ? next(body) : next);
  });
});
test.after(() => service.close());
test.beforeEach(() => {
  service.requests.length = 0;
  answers = [decision()];
});

function policy(strategy = "vetted-texters", name = strategy) {
  return bridge.strategy({ name, strategy, displayName: "Test" });
}

/** Spoke's sequence up to selectContacts, for a plan of `numberContacts`. */
async function spokeSelect(module, args, numberContacts, contactsCount = 12) {
  args.numberContacts = numberContacts;
  args.contactsCount = contactsCount;
  const queries = spokeQueries(numberContacts, args);
  const selection = await module.selectContacts(queries.batchQuery, queries.hasCurrentQuery, args);
  return { selection, ...queries };
}

const DEFAULT_BATCH_SQL =
  'select "id" from "campaign_contact" where "campaign_id" = ? and "message_status" in (?) and ' +
  '"assignment_id" is null and "is_opted_out" = ? limit ? for update';

test("the module has Spoke's strategy shape, named after its folder", () => {
  const module = bridge.strategy({ name: "sb-vetted-texters", strategy: "vetted-texters", displayName: "Vetted" });
  assert.equal(module.name, "sb-vetted-texters");
  assert.equal(module.displayName(), "Vetted");
  assert.equal(typeof module.requestNewBatchCount, "function");
  assert.equal(typeof module.selectContacts, "function");
  assert.equal(bridge.strategy({ name: "a", strategy: "b" }).displayName(), "b");
  assert.throws(() => bridge.strategy({ name: "", strategy: "b" }), /name is ""/);
  assert.throws(() => bridge.strategy({ name: "a", strategy: "../b" }), /strategy is "\.\.\/b"/);
});

test("requestNewBatchCount makes one call and returns the count", async () => {
  useBridge({ url: service.url });
  const args = spokeArgs();
  assert.equal(await policy().requestNewBatchCount(args), 250);
  assert.equal(service.requests.length, 1);
  const [request] = service.requests;
  assert.equal(request.method, "POST");
  assert.equal(request.url, "/v1/assignments/41/decision");
  assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
  assert.match(request.headers["content-type"], /^application\/json/);
  assert.deepEqual(request.body, { strategy: "vetted-texters", mode: "batch", texterId: 7 });
});

test("with hasAny the mode is has-any and the count is returned", async () => {
  answers = [decision({ count: 1, plan: null, selection: null })];
  useBridge({ url: service.url });
  assert.equal(await policy().requestNewBatchCount(spokeArgs({ hasAny: true })), 1);
  assert.deepEqual(service.requests[0].body, { strategy: "vetted-texters", mode: "has-any", texterId: 7 });
});

test("texterId is the assignment's user when Spoke passes no texter; now is sent when pinned", async () => {
  const { lines } = useBridge({ url: service.url });
  bridge.configure({ requestTime: () => "2026-12-01T15:00:00Z" });
  await policy().requestNewBatchCount(spokeArgs({ texter: undefined }));
  assert.deepEqual(service.requests[0].body, {
    strategy: "vetted-texters",
    mode: "batch",
    texterId: 7,
    now: "2026-12-01T15:00:00Z"
  });
  await policy().requestNewBatchCount(spokeArgs({ texter: { id: "9" } }));
  assert.equal(service.requests[1].body.texterId, 9);
  assert.deepEqual(lines, []);
});

test("the kept selection is reused when Spoke's plan is the one the service assumed", async () => {
  const { lines } = useBridge({ url: service.url });
  const module = policy();
  const args = spokeArgs();
  await module.requestNewBatchCount(args);
  const { selection } = await spokeSelect(module, args, 100, 12);
  assert.equal(service.requests.length, 1, "no second call");
  // A null batch query is Spoke's default filter, which Spoke does not add itself; a null
  // hasCurrentQuery leaves Spoke's own (no field in the answer).
  assert.deepEqual(Object.keys(selection), ["batchQuery"]);
  assert.deepEqual(selection.batchQuery.toSQL().sql, DEFAULT_BATCH_SQL);
  assert.deepEqual(selection.batchQuery.toSQL().bindings, [3, "needsMessage", false, 100]);
  assert.deepEqual(lines, []);
});

test("another plan makes one more call with Spoke's plan", async () => {
  answers = [
    decision(),
    decision({ plan: { numberContacts: 20, contactsCount: 12 }, count: 240 })
  ];
  useBridge({ url: service.url });
  const module = policy();
  const args = spokeArgs();
  await module.requestNewBatchCount(args);
  const { selection } = await spokeSelect(module, args, 20, 12);
  assert.equal(service.requests.length, 2);
  assert.deepEqual(service.requests[1].body, {
    strategy: "vetted-texters",
    mode: "batch",
    texterId: 7,
    plan: { numberContacts: 20, contactsCount: 12 }
  });
  assert.deepEqual(selection.batchQuery.toSQL().bindings, [3, "needsMessage", false, 20]);
});

test("a different contactsCount alone also asks again", async () => {
  answers = [decision(), decision({ plan: { numberContacts: 100, contactsCount: 13 } })];
  useBridge({ url: service.url });
  const module = policy();
  const args = spokeArgs();
  await module.requestNewBatchCount(args);
  await spokeSelect(module, args, 100, 13);
  assert.equal(service.requests.length, 2);
  assert.deepEqual(service.requests[1].body.plan, { numberContacts: 100, contactsCount: 13 });
});

test("selectContacts without a kept decision (Spoke's bulk path or a fresh object) asks with the plan", async () => {
  answers = [decision({ plan: { numberContacts: 30, contactsCount: 0 } })];
  useBridge({ url: service.url });
  const { selection } = await spokeSelect(policy(), spokeArgs(), 30, 0);
  assert.equal(service.requests.length, 1);
  assert.deepEqual(service.requests[0].body.plan, { numberContacts: 30, contactsCount: 0 });
  assert.deepEqual(selection.batchQuery.toSQL().bindings, [3, "needsMessage", false, 30]);
});

test("no call when numberContacts <= 0, and a batch query that matches nothing", async () => {
  const { lines } = useBridge({ url: service.url });
  for (const numberContacts of [0, -5]) {
    const { selection } = await spokeSelect(policy(), spokeArgs(), numberContacts);
    const { sql, bindings } = selection.batchQuery.toSQL();
    assert.equal(sql, 'select "id" from "campaign_contact" where "campaign_id" = ? and 1 = 0 limit ? for update');
    assert.deepEqual(bindings, [3, 0]);
  }
  assert.equal(service.requests.length, 0);
  assert.deepEqual(lines, []);
});

test("a second answer of count 0 (the strategy changed its mind) claims nothing", async () => {
  answers = [decision({ count: 0, plan: { numberContacts: 20, contactsCount: 12 } })];
  const { lines } = useBridge({ url: service.url });
  const { selection } = await spokeSelect(policy(), spokeArgs(), 20);
  assert.match(selection.batchQuery.toSQL().sql, /and 1 = 0 limit \? for update$/);
  assert.deepEqual(lines, []);
});

test("the descriptor's limit, else the plan's numberContacts", async () => {
  for (const [limit, expected] of [[null, 20], [0, 0], [5, 5], [20, 20]]) {
    answers = [
      decision({
        plan: { numberContacts: 20, contactsCount: 12 },
        selection: {
          batchQuery: {
            filter: { status: { kind: "oneOf", statuses: ["needsMessage"] }, assignment: "unassigned", optedOut: false, timezone: "any" },
            limit
          },
          hasCurrentQuery: null
        }
      })
    ];
    useBridge({ url: service.url });
    const { selection } = await spokeSelect(policy(), spokeArgs(), 20);
    const { bindings } = selection.batchQuery.toSQL();
    assert.equal(bindings[bindings.length - 1], expected, `limit ${limit}`);
  }
});

test("ORDER BY CAST(id AS BIGINT) only when claimOrder says the claim index exists", async () => {
  const cases = [
    ["claim-index", `${DEFAULT_BATCH_SQL.replace(" limit", " order by CAST(id AS BIGINT) limit")}`],
    [undefined, DEFAULT_BATCH_SQL],
    ["some-future-order", DEFAULT_BATCH_SQL]
  ];
  for (const [claimOrder, sql] of cases) {
    answers = [decision({ claimOrder })];
    useBridge({ url: service.url });
    const module = policy();
    const args = spokeArgs();
    await module.requestNewBatchCount(args);
    const { selection } = await spokeSelect(module, args, 100);
    assert.equal(selection.batchQuery.toSQL().sql, sql, String(claimOrder));
  }
});

test("finished-replies-tz: valid-now by Spoke's own getCampaignOffsets, unknown zone included", async () => {
  answers = [
    decision({
      strategy: "finished-replies-tz",
      claimOrder: "claim-index",
      selection: {
        batchQuery: {
          filter: { status: { kind: "oneOf", statuses: ["needsMessage"] }, assignment: "unassigned", optedOut: false, timezone: "validNow" },
          limit: null
        },
        hasCurrentQuery: null
      },
      // The service's view; the claim follows Spoke's lists instead.
      offsets: { valid: ["-4_1"], invalid: ["-10_1"] }
    })
  ];
  const seen = [];
  useBridge({ url: service.url });
  const args = spokeArgs();
  bridge.configure({
    getCampaignOffsets: (campaign, organization, timezoneFilter) => {
      seen.push([campaign, organization, timezoneFilter]);
      return timezoneFilter
        ? { validOffsets: ["-5_1", "-6_1", ""], invalidOffsets: ["-8_1"] }
        : { validOffsets: ["-5_1", "-6_1"], invalidOffsets: ["-8_1"] };
    }
  });
  const module = policy("finished-replies-tz");
  await module.requestNewBatchCount(args);
  const { selection } = await spokeSelect(module, args, 100);
  assert.equal(
    selection.batchQuery.toSQL().sql,
    'select "id" from "campaign_contact" where "campaign_id" = ? and "message_status" in (?) and ' +
      '"assignment_id" is null and "is_opted_out" = ? and "timezone_offset" in (?, ?, ?) ' +
      "order by CAST(id AS BIGINT) limit ? for update"
  );
  assert.deepEqual(selection.batchQuery.toSQL().bindings, [3, "needsMessage", false, "-5_1", "-6_1", "", 100]);
  assert.deepEqual(
    seen.map(([campaign, organization, filter]) => [campaign === args.campaign, organization === args.organization, filter]),
    [[true, true, true], [true, true, false]]
  );
});

test("invalid-now takes Spoke's invalid list with the unknown zone when its default is outside hours", async () => {
  answers = [
    decision({
      selection: {
        batchQuery: {
          filter: { status: { kind: "any" }, assignment: "unassigned", optedOut: false, timezone: "invalidNow" },
          limit: null
        },
        hasCurrentQuery: null
      }
    })
  ];
  useBridge({ url: service.url, offsets: { valid: ["-5_1"], invalid: ["-8_1"], unknownValid: false } });
  const module = policy();
  const args = spokeArgs();
  await module.requestNewBatchCount(args);
  const { selection } = await spokeSelect(module, args, 100);
  assert.deepEqual(selection.batchQuery.toSQL().bindings, [3, false, "-8_1", "", 100]);
});

test("outside Spoke the service's offsets are used, with one log line per process", async () => {
  const answer = decision({
    selection: {
      batchQuery: {
        filter: { status: { kind: "oneOf", statuses: ["needsMessage"] }, assignment: "unassigned", optedOut: false, timezone: "validNow" },
        limit: null
      },
      hasCurrentQuery: null
    },
    offsets: { valid: ["-4_1", ""], invalid: ["-10_1"] }
  });
  answers = [answer];
  const { lines } = useBridge({ url: service.url, offsets: null });
  for (let round = 0; round < 2; round += 1) {
    const module = policy();
    const args = spokeArgs();
    await module.requestNewBatchCount(args);
    const { selection } = await spokeSelect(module, args, 100);
    assert.deepEqual(selection.batchQuery.toSQL().bindings, [3, "needsMessage", false, "-4_1", "", 100]);
  }
  assert.equal(lines.length, 1);
  assert.match(lines[0], /getCampaignOffsets was not found at .*server\/api\/assignment/);
});

test("vetted-takeconversations: its batch query and its hasCurrentQuery on this assignment", async () => {
  answers = [
    decision({
      strategy: "vetted-takeconversations",
      plan: { numberContacts: 20, contactsCount: 12 },
      selection: {
        batchQuery: {
          filter: { status: { kind: "noneOf", statuses: ["needsMessage", "messaged"] }, assignment: "unassigned", optedOut: false, timezone: "any" },
          limit: null
        },
        hasCurrentQuery: { status: { kind: "oneOf", statuses: ["needsMessage", "needsResponse"] }, assignment: "thisAssignment", optedOut: false, timezone: "any" }
      }
    })
  ];
  useBridge({ url: service.url });
  const { selection } = await spokeSelect(policy("vetted-takeconversations"), spokeArgs(), 20);
  const batch = selection.batchQuery.toSQL();
  assert.equal(
    batch.sql,
    'select "id" from "campaign_contact" where "campaign_id" = ? and "message_status" not in (?, ?) and ' +
      '"assignment_id" is null and "is_opted_out" = ? limit ? for update'
  );
  assert.deepEqual(batch.bindings, [3, "needsMessage", "messaged", false, 20]);
  const current = selection.hasCurrentQuery.toSQL();
  assert.equal(
    current.sql,
    'select * from "campaign_contact" where "campaign_id" = ? and "message_status" in (?, ?) and ' +
      '"assignment_id" = ? and "is_opted_out" = ?'
  );
  assert.deepEqual(current.bindings, [3, "needsMessage", "needsResponse", 41, false]);
});

test("without args.r the hasCurrentQuery is built from a clean copy of Spoke's", async () => {
  answers = [
    decision({
      plan: { numberContacts: 20, contactsCount: 12 },
      selection: {
        batchQuery: null,
        hasCurrentQuery: { status: { kind: "any" }, assignment: "thisAssignment", optedOut: null, timezone: "any" }
      }
    })
  ];
  useBridge({ url: service.url });
  const args = spokeArgs({ r: undefined });
  const { selection, hasCurrentQuery } = await spokeSelect(policy(), args, 20);
  assert.equal(selection.hasCurrentQuery.toSQL().sql, 'select * from "campaign_contact" where "campaign_id" = ? and "assignment_id" = ?');
  // Spoke's own builder is left as it was.
  assert.deepEqual(hasCurrentQuery.toSQL().bindings, [41, "needsMessage", false, 3]);
});
