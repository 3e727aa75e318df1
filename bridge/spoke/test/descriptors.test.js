"use strict";
// Every descriptor variant of the contract, applied to Spoke's knex builders and compiled for
// PostgreSQL: the exact SQL and bindings, and the refusal of everything else.

const test = require("node:test");
const assert = require("node:assert/strict");

const {
  applyFilter,
  offsetCondition,
  parseFilter,
  parseSelection
} = require("../spoke-batches/descriptors");
const { db } = require("./support/fake");

const BASE = 'select "id" from "campaign_contact" where "campaign_id" = ?';

function scope(offsets = { valid: ["-5_1", "-6_1"], invalid: ["-8_1"] }) {
  let asked = 0;
  return {
    campaignId: 3,
    assignmentId: 41,
    offsets: () => {
      asked += 1;
      return offsets;
    },
    asked: () => asked
  };
}

function compiled(filter, theScope = scope()) {
  const query = applyFilter(db("campaign_contact").select("id"), parseFilter(filter, "filter"), theScope);
  const { sql, bindings } = query.toSQL();
  return { sql, bindings };
}

function filter(overrides) {
  return {
    status: { kind: "any" },
    assignment: "any",
    optedOut: null,
    timezone: "any",
    ...overrides
  };
}

test("the campaign alone when every part is any", () => {
  assert.deepEqual(compiled(filter({})), { sql: BASE, bindings: [3] });
});

test("status one-of, none-of, and their empty forms", () => {
  assert.deepEqual(
    compiled(filter({ status: { kind: "oneOf", statuses: ["needsMessage", "needsResponse"] } })),
    { sql: `${BASE} and "message_status" in (?, ?)`, bindings: [3, "needsMessage", "needsResponse"] }
  );
  assert.deepEqual(
    compiled(filter({ status: { kind: "noneOf", statuses: ["needsMessage", "messaged"] } })),
    { sql: `${BASE} and "message_status" not in (?, ?)`, bindings: [3, "needsMessage", "messaged"] }
  );
  // oneOf [] matches nothing; noneOf [] matches everything.
  assert.deepEqual(compiled(filter({ status: { kind: "oneOf", statuses: [] } })), {
    sql: `${BASE} and 1 = 0`,
    bindings: [3]
  });
  assert.deepEqual(compiled(filter({ status: { kind: "noneOf", statuses: [] } })), {
    sql: BASE,
    bindings: [3]
  });
  // A repeated status is one condition value.
  assert.deepEqual(
    compiled(filter({ status: { kind: "oneOf", statuses: ["convo", "convo", "closed", "UPDATING"] } })),
    { sql: `${BASE} and "message_status" in (?, ?, ?)`, bindings: [3, "convo", "closed", "UPDATING"] }
  );
});

test("assignment unassigned and this assignment", () => {
  assert.deepEqual(compiled(filter({ assignment: "unassigned" })), {
    sql: `${BASE} and "assignment_id" is null`,
    bindings: [3]
  });
  assert.deepEqual(compiled(filter({ assignment: "thisAssignment" })), {
    sql: `${BASE} and "assignment_id" = ?`,
    bindings: [3, 41]
  });
});

test("opted out true, false and either", () => {
  assert.deepEqual(compiled(filter({ optedOut: true })), {
    sql: `${BASE} and "is_opted_out" = ?`,
    bindings: [3, true]
  });
  assert.deepEqual(compiled(filter({ optedOut: false })), {
    sql: `${BASE} and "is_opted_out" = ?`,
    bindings: [3, false]
  });
  assert.deepEqual(compiled(filter({ optedOut: null })), { sql: BASE, bindings: [3] });
});

test("timezone valid now and invalid now use the offset lists", () => {
  assert.deepEqual(compiled(filter({ timezone: "validNow" })), {
    sql: `${BASE} and "timezone_offset" in (?, ?)`,
    bindings: [3, "-5_1", "-6_1"]
  });
  assert.deepEqual(compiled(filter({ timezone: "invalidNow" })), {
    sql: `${BASE} and "timezone_offset" in (?)`,
    bindings: [3, "-8_1"]
  });
});

test("timezone with an empty side: no condition for the other side, nothing for the empty one", () => {
  // Texting hours not enforced: nothing is invalid, so everything is valid.
  const allValid = { valid: ["-5_1", "-8_1", ""], invalid: [] };
  assert.deepEqual(compiled(filter({ timezone: "validNow" }), scope(allValid)), { sql: BASE, bindings: [3] });
  assert.deepEqual(compiled(filter({ timezone: "invalidNow" }), scope(allValid)), {
    sql: `${BASE} and 1 = 0`,
    bindings: [3]
  });
  // Night everywhere.
  const noneValid = { valid: [], invalid: ["-5_1", "-8_1"] };
  assert.deepEqual(compiled(filter({ timezone: "validNow" }), scope(noneValid)), {
    sql: `${BASE} and 1 = 0`,
    bindings: [3]
  });
  assert.deepEqual(compiled(filter({ timezone: "invalidNow" }), scope(noneValid)), { sql: BASE, bindings: [3] });
  assert.equal(offsetCondition("any", noneValid), null);
});

test("the offsets are only asked for when a filter has a timezone condition", () => {
  const lazy = scope();
  compiled(filter({ status: { kind: "oneOf", statuses: ["needsMessage"] } }), lazy);
  assert.equal(lazy.asked(), 0);
  compiled(filter({ timezone: "validNow" }), lazy);
  assert.equal(lazy.asked(), 1);
});

test("every part together, in a fixed order", () => {
  assert.deepEqual(
    compiled({
      status: { kind: "oneOf", statuses: ["needsMessage"] },
      assignment: "unassigned",
      optedOut: false,
      timezone: "validNow"
    }),
    {
      sql:
        `${BASE} and "message_status" in (?) and "assignment_id" is null and "is_opted_out" = ? ` +
        'and "timezone_offset" in (?, ?)',
      bindings: [3, "needsMessage", false, "-5_1", "-6_1"]
    }
  );
});

test("malformed filters are refused with INVALID_DESCRIPTOR, naming what is wrong", () => {
  const cases = [
    [null, /must be a filter object/],
    [[], /must be a filter object/],
    [filter({ extra: 1 }), /unknown fields extra/],
    [{ status: { kind: "any" }, assignment: "any", optedOut: null }, /lacks timezone/],
    [filter({ status: "any" }), /status must be an object/],
    [filter({ status: { kind: "some" } }), /kind is "some"/],
    [filter({ status: { kind: "oneOf" } }), /statuses must be a list/],
    [filter({ status: { kind: "oneOf", statuses: ["needsMessage", "sent"] } }), /unknown statuses \["sent"\]/],
    [filter({ status: { kind: "any", statuses: [] } }), /unknown fields statuses/],
    [filter({ status: { kind: "oneOf", statuses: [], negate: true } }), /unknown fields negate/],
    [filter({ assignment: "mine" }), /assignment is "mine"/],
    [filter({ assignment: null }), /assignment is null/],
    [filter({ optedOut: "false" }), /optedOut is "false"/],
    [filter({ timezone: "valid" }), /timezone is "valid"/]
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => parseFilter(value, "filter"),
      (error) => error.code === "INVALID_DESCRIPTOR" && message.test(error.message),
      JSON.stringify(value)
    );
  }
});

test("a batch query must keep the claim invariants and a limit within the plan", () => {
  const claimable = {
    status: { kind: "oneOf", statuses: ["needsMessage"] },
    assignment: "unassigned",
    optedOut: false,
    timezone: "validNow"
  };
  assert.deepEqual(parseSelection({ batchQuery: { filter: claimable, limit: 20 }, hasCurrentQuery: null }, 20), {
    batchQuery: { filter: { ...claimable, status: { kind: "oneOf", statuses: ["needsMessage"] } }, limit: 20 },
    hasCurrentQuery: null
  });
  assert.deepEqual(parseSelection({}, 5), { batchQuery: null, hasCurrentQuery: null });
  const refused = [
    [{ batchQuery: { filter: { ...claimable, assignment: "any" }, limit: null } }, /only claim unassigned/],
    [{ batchQuery: { filter: { ...claimable, assignment: "thisAssignment" }, limit: null } }, /only claim unassigned/],
    [{ batchQuery: { filter: { ...claimable, optedOut: null }, limit: null } }, /not opted out/],
    [{ batchQuery: { filter: { ...claimable, optedOut: true }, limit: null } }, /not opted out/],
    [{ batchQuery: { filter: claimable, limit: 21 } }, /limit is 21; expected null or 0\.\.20/],
    [{ batchQuery: { filter: claimable, limit: -1 } }, /limit is -1/],
    [{ batchQuery: { filter: claimable, limit: 2.5 } }, /limit is 2\.5/],
    [{ batchQuery: { filter: claimable, limit: "5" } }, /limit is "5"/],
    [{ batchQuery: { filter: claimable, limit: null, order: "id" } }, /unknown fields order/],
    [{ batchQuery: claimable }, /unknown fields/],
    [{ batchQuery: [] }, /must be \{filter, limit\}/],
    [{ batchQuery: null, hasCurrentQuery: { kind: "any" } }, /unknown fields kind/],
    [{ batchQuery: null, extra: null }, /selection has unknown fields extra/],
    ["all", /selection must be an object/]
  ];
  for (const [value, message] of refused) {
    assert.throws(
      () => parseSelection(value, 20),
      (error) => error.code === "INVALID_DESCRIPTOR" && message.test(error.message),
      JSON.stringify(value)
    );
  }
});
