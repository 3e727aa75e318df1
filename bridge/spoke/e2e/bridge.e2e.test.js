"use strict";
// End to end: the bridge inside the Spoke driver, deciding through a real `spoke-batches serve`
// on PostgreSQL, against spoke-batches' own batch request on identically seeded data in a second
// schema (at a pinned time: `explain`, whose claim is then made, since a write takes no client
// time); 32 concurrent bridged requests; every failure case.
//
// Needs SPOKE_BATCHES_BIN (the binary) and TEST_DATABASE_URL (PostgreSQL); without them the
// tests are skipped, except under CI=true, where they fail. The strategies come from
// <repo>/strategies/dist (make strategies), or SPOKE_BATCHES_STRATEGIES.

const test = require("node:test");
const assert = require("node:assert/strict");
const http = require("http");
const path = require("path");

// The strategy folders Spoke would load: the committed examples, or (SPOKE_BRIDGE_EXTENSION_DIR)
// what `spoke-batches spoke-extension --out DIR` wrote; the bridge is the one inside them.
const EXTENSION_DIR = process.env.SPOKE_BRIDGE_EXTENSION_DIR || path.join(__dirname, "..", "test", "extension");
const bridge = require(path.join(EXTENSION_DIR, "spoke-batches"));
const { SpokeDriver } = require("./spoke-driver");
const { spokeAllTexters } = require("./spoke-policies");
const { createSchema, getJson, missingInputs, runCli, seed, serve } = require("./support");

const TOKEN = "e2e-bridge-token-0123456789";
const NOW = "2026-12-01T14:30:00Z"; // 9:30 in New York, before 9:00 everywhere west of it
const CONTACTS = 6000;
const EXTRA_TEXTERS = 32;
const STRATEGIES = [
  "all-texters",
  "fewer-than-n-replies",
  "finished-replies",
  "finished-replies-tz",
  "vetted-takeconversations",
  "vetted-texters"
];
const OFFSETS_FALLBACK = /getCampaignOffsets was not found/;

const skipped = missingInputs();
if (skipped && process.env.CI === "true") {
  test("the bridge's end-to-end tests run under CI", () => {
    assert.fail(`${skipped}; under CI=true they must run (set both)`);
  });
} else if (skipped) {
  test(`bridge end-to-end tests (skipped: ${skipped})`, { skip: skipped }, () => {});
} else {
  endToEnd();
}

function endToEnd() {
  const world = {};

  /** The bridge configured for a case: the service URL and token, the log, the pinned now. */
  function configureBridge({ url = world.bridgedService.url, token = TOKEN, timeoutMs = 5000 } = {}) {
    bridge.resetForTests();
    const lines = [];
    const calls = [];
    const settings = { SPOKE_BATCHES_URL: url, SPOKE_BATCHES_TOKEN: token, SPOKE_BATCHES_TIMEOUT_MS: String(timeoutMs) };
    bridge.configure({
      getConfig: (key) => settings[key],
      log: (line) => lines.push(line),
      requestTime: () => NOW,
      // Records each decision call and its answer (the test needs claimOrder and the plans).
      fetch: async (target, init) => {
        const call = { body: JSON.parse(init.body), answer: null };
        calls.push(call);
        const response = await fetch(target, init);
        const text = await response.text();
        try {
          call.answer = JSON.parse(text);
        } catch (error) {
          call.answer = null;
        }
        return new Response(text, { status: response.status, headers: response.headers });
      }
    });
    return { lines, calls };
  }

  async function both(action) {
    await action(world.bridged);
    await action(world.native);
  }

  /** Puts every contact back as the baseline had it. */
  function restore(schema) {
    return schema.knex.raw(
      "UPDATE campaign_contact c SET assignment_id = b.assignment_id, message_status = b.message_status " +
        "FROM bridge_e2e_baseline b WHERE b.id = c.id"
    );
  }

  function setCampaignFeatures(schema, features) {
    return schema.knex("campaign").where("id", world.seed.campaignId).update({ features: JSON.stringify(features) });
  }

  /** What an assignment holds: its contact ids and counts by status and timezone. */
  async function holdings(schema, assignmentId) {
    const rows = await schema.knex("campaign_contact").where("assignment_id", assignmentId).select("id", "message_status", "timezone_offset").orderBy("id");
    const counts = {};
    for (const row of rows) {
      const key = `${row.message_status}|${row.timezone_offset}`;
      counts[key] = (counts[key] || 0) + 1;
    }
    return { ids: rows.map((row) => row.id), counts, total: rows.length };
  }

  /** Who holds what, for the whole table (nothing assigned = the same fingerprint). */
  async function fingerprint(schema) {
    const { rows } = await schema.knex.raw(
      "SELECT md5(string_agg(id || ':' || COALESCE(assignment_id, 0) || ':' || message_status, ',' ORDER BY id)) AS print FROM campaign_contact"
    );
    return rows[0].print;
  }

  /**
   * Texting: every second needsMessage contact a texter holds gets its first text, every tenth
   * a reply. By rank within the assignment, not by id, so the counts a texter ends up with do
   * not depend on which contacts a claim without an order picked.
   */
  function simulateTexting(schema) {
    return schema.knex.raw(
      "UPDATE campaign_contact c SET message_status = CASE WHEN ranked.rank % 10 = 0 THEN 'needsResponse' ELSE 'messaged' END " +
        "FROM (SELECT id, row_number() OVER (PARTITION BY assignment_id ORDER BY id) AS rank FROM campaign_contact " +
        "WHERE assignment_id IS NOT NULL AND message_status = 'needsMessage') AS ranked " +
        "WHERE c.id = ranked.id AND ranked.rank % 2 = 0"
    );
  }

  // spoke-batches' own batch request at the pinned NOW. A request that writes runs at the
  // service's clock (a client's `now` is refused), so the native side asks `explain`, which runs
  // the same request with the same claim statement at NOW and rolls it back, and then makes the
  // claim it reported: the contact ids explain claimed get the texter's assignment.
  async function nativeRequest(texter, numberContacts, batchType) {
    const query = new URLSearchParams({ texterId: String(texter.userId), now: NOW });
    if (numberContacts !== undefined) query.set("numberContacts", String(numberContacts));
    if (batchType !== undefined) query.set("batchType", batchType);
    const { status, body } = await getJson(
      `${world.nativeService.url}/v1/assignments/${texter.assignmentId}/explain?${query}`,
      TOKEN
    );
    if (status !== 200) {
      return { status, body };
    }
    const claimed = body.trace.contactIds || [];
    if (claimed.length) {
      await world.native.knex("campaign_contact").whereIn("id", claimed).update({
        assignment_id: texter.assignmentId,
        updated_at: NOW
      });
    }
    return { status, body: body.outcome };
  }

  async function nativeHasUnassigned(texter) {
    const { status, body } = await getJson(
      `${world.nativeService.url}/v1/assignments/${texter.assignmentId}/unassigned-count?texterId=${texter.userId}&now=${encodeURIComponent(NOW)}`,
      TOKEN
    );
    assert.equal(status, 200, JSON.stringify(body));
    return body.count;
  }

  test.before(async () => {
    world.bridged = await createSchema("bridged");
    world.native = await createSchema("native");
    const seeds = [await seed(world.bridged, CONTACTS, EXTRA_TEXTERS), await seed(world.native, CONTACTS, EXTRA_TEXTERS)];
    // The same demo twice; only the join tokens differ (each seeded campaign gets a random one).
    const withoutToken = ({ joinToken, ...rest }) => rest;
    assert.deepEqual(withoutToken(seeds[0]), withoutToken(seeds[1]), "the two seeds must be identical");
    world.seed = seeds[0];
    for (const schema of [world.bridged, world.native]) {
      const migrated = await runCli(["--database-url", schema.url, "migrate", "--claim-index"]);
      assert.equal(migrated.claimIndex === "created" || migrated.claimIndex === "present", true, JSON.stringify(migrated));
    }
    const extras = world.seed.texters.filter((texter) => texter.role === "TEXTER").slice(-EXTRA_TEXTERS);
    world.extras = extras;
    await both(async (schema) => {
      // Texting hours at NOW: only the eastern zones are within 9:00-21:00. Texters must finish
      // their current batch first (the has-current check). Some conversations are unassigned
      // (for vetted-takeconversations); three texters have a max_contacts, one of them 0.
      await schema.knex("organization").where("id", world.seed.organizationId).update({
        texting_hours_enforced: true,
        texting_hours_start: 9,
        texting_hours_end: 21,
        features: JSON.stringify({ TEXTER_SIDEBOXES: "per-campaign-bulk-send" })
      });
      await schema.knex.raw(
        "UPDATE campaign_contact SET message_status = 'convo', assignment_id = NULL WHERE id % 17 = 0"
      );
      await schema.knex("assignment").whereIn("id", [extras[0].assignmentId, extras[1].assignmentId]).update({ max_contacts: 150 });
      await schema.knex("assignment").where("id", extras[2].assignmentId).update({ max_contacts: 0 });
      await schema.knex.raw(
        "CREATE TABLE bridge_e2e_baseline AS SELECT id, assignment_id, message_status FROM campaign_contact"
      );
    });
    assert.equal(await fingerprint(world.bridged), await fingerprint(world.native), "identical data");
    world.bridgedService = await serve(world.bridged, TOKEN);
    world.nativeService = await serve(world.native, TOKEN);
    world.driverLines = [];
    world.driver = new SpokeDriver({
      knex: world.bridged.knex,
      extensionDir: EXTENSION_DIR,
      log: (line) => world.driverLines.push(line),
      builtIn: { "spoke-all-texters": spokeAllTexters }
    });
  });

  test.after(async () => {
    bridge.resetForTests();
    for (const service of [world.bridgedService, world.nativeService]) {
      if (service) await service.stop();
    }
    for (const schema of [world.bridged, world.native]) {
      if (schema) await schema.drop();
    }
  });

  test("the driver claims what spoke-batches claims, with Spoke's all-texters decided in JS", async () => {
    await both(restore);
    await setCampaignFeatures(world.bridged, { DYNAMICASSIGNMENT_BATCHES: "spoke-all-texters" });
    await setCampaignFeatures(world.native, { DYNAMICASSIGNMENT_BATCHES: "all-texters" });
    let found = 0;
    for (let round = 0; round < 2; round += 1) {
      for (const texter of world.seed.texters) {
        const user = { id: texter.userId };
        const driven = await world.driver.findNewCampaignContact({ assignmentId: texter.assignmentId, numberContacts: 100, user });
        const native = await nativeRequest(texter, 100, undefined);
        assert.equal(native.status, 200, JSON.stringify(native.body));
        assert.equal(driven.found, native.body.found, `texter ${texter.userId} round ${round}`);
        found += driven.found ? 1 : 0;
        // Spoke's claim has no order, so which contacts differ; how many may not.
        const [mine, theirs] = [await holdings(world.bridged, texter.assignmentId), await holdings(world.native, texter.assignmentId)];
        assert.equal(mine.total, theirs.total, `texter ${texter.userId} round ${round}`);
        assert.equal(
          await world.driver.hasUnassignedContactsForTexter({ assignmentId: texter.assignmentId, user }),
          await nativeHasUnassigned(texter)
        );
      }
      await both(simulateTexting);
    }
    assert.ok(found > EXTRA_TEXTERS, `batches were handed out (${found})`);
    assert.deepEqual(world.driverLines, []);
  });

  for (const strategy of STRATEGIES) {
    test(`${strategy}: the bridged outcome equals spoke-batches' own /batches`, async (t) => {
      await both(restore);
      await both((schema) => setCampaignFeatures(schema, { DYNAMICASSIGNMENT_BATCHES: strategy }));
      // The default sidebox asks for the batch size. The take-conversations sidebox asks for
      // its own batch size (20 unless set); 5 here, below the replies a vetted texter holds,
      // so the strategy's own hasCurrentQuery (initials and replies) decides.
      const numberContacts = strategy === "vetted-takeconversations" ? 5 : 100;
      const { lines, calls } = configureBridge();
      let found = 0;
      let withIndex = 0;
      let secondCalls = 0;
      for (let round = 0; round < 2; round += 1) {
        for (const texter of world.seed.texters) {
          const label = `${strategy}, texter ${texter.userId} (${texter.role}), round ${round}`;
          const user = { id: texter.userId };
          calls.length = 0;
          const driven = await world.driver.findNewCampaignContact({
            assignmentId: texter.assignmentId,
            numberContacts,
            batchType: strategy,
            user
          });
          const native = await nativeRequest(texter, numberContacts, strategy);
          assert.equal(native.status, 200, `${label}: ${JSON.stringify(native.body)}`);
          assert.equal(driven.found, native.body.found, `${label}: ${lines.join("\n")}`);
          found += driven.found ? 1 : 0;

          // One decision call, and a second only when Spoke's plan is not the one the service
          // assumed (the default sidebox's plan is: batch size 100).
          if (!calls.length) {
            assert.equal(texter.assignmentId, world.extras[2].assignmentId, `${label}: only max_contacts 0 skips the strategy`);
          } else {
            assert.equal(calls[0].body.plan, undefined, label);
            const assumed = calls[0].answer.plan;
            const needed = driven.plan.numberContacts > 0 && (assumed.numberContacts !== driven.plan.numberContacts || assumed.contactsCount !== driven.plan.contactsCount);
            assert.equal(calls.length, needed ? 2 : 1, label);
            if (needed) {
              secondCalls += 1;
              assert.deepEqual(calls[1].body.plan, driven.plan, label);
            }
            if (numberContacts === 100) {
              assert.equal(needed, false, `${label}: the service assumed Spoke's plan`);
            }
          }

          const [mine, theirs] = [await holdings(world.bridged, texter.assignmentId), await holdings(world.native, texter.assignmentId)];
          assert.deepEqual(mine.counts, theirs.counts, label);
          if (calls.some((call) => call.answer && call.answer.claimOrder === "claim-index")) {
            withIndex += 1;
            assert.deepEqual(mine.ids, theirs.ids, label);
          }
          assert.equal(
            await world.driver.hasUnassignedContactsForTexter({ assignmentId: texter.assignmentId, user }),
            await nativeHasUnassigned(texter),
            `${label}: hasUnassignedContactsForTexter`
          );
        }
        await both(simulateTexting);
      }
      t.diagnostic(`${strategy}: ${found} batches found, ${withIndex} compared id by id, ${secondCalls} second calls`);
      assert.equal(await fingerprint(world.bridged), await fingerprint(world.native), "the same contacts went to the same texters");
      assert.ok(withIndex > 0, "the service reported the claim index");
      // Nothing failed: at most the one-time note that texting hours come from the service.
      assert.deepEqual(lines.filter((line) => !OFFSETS_FALLBACK.test(line)), []);
      assert.deepEqual(world.driverLines, []);
      if (strategy !== "vetted-takeconversations" && strategy !== "vetted-texters") {
        assert.ok(found > 0, `${strategy} handed out batches`);
      }
    });
  }

  test("32 concurrent bridged requests assign no contact twice", async () => {
    await both(restore);
    await setCampaignFeatures(world.bridged, { DYNAMICASSIGNMENT_BATCHES: "all-texters" });
    const { lines } = configureBridge({ timeoutMs: 20000 });
    const held = async () =>
      Number((await world.bridged.knex("campaign_contact").whereIn("assignment_id", world.extras.map((texter) => texter.assignmentId)).count("* as count").first()).count);
    const before = await held();
    const outcomes = await Promise.all(
      world.extras.map((texter) =>
        world.driver.findNewCampaignContact({ assignmentId: texter.assignmentId, numberContacts: 100, user: { id: texter.userId } })
      )
    );
    const claimed = outcomes.reduce((sum, outcome) => sum + outcome.claimed, 0);
    // A contact claimed by two requests would be counted twice but held once.
    assert.equal(await held() - before, claimed);
    assert.ok(outcomes.every((outcome) => outcome.claimed <= 100));
    assert.equal(outcomes.filter((outcome) => outcome.found).length, EXTRA_TEXTERS - 1, "all but the max_contacts 0 texter");
    assert.deepEqual(lines, []);
    assert.deepEqual(world.driverLines, []);
  });

  /** A request that must fail closed: nothing assigned, one line naming `code`, within `withinMs`. */
  async function failsClosed({ options, code, status, withinMs = 3000, features = { DYNAMICASSIGNMENT_BATCHES: "all-texters" } }) {
    await both(restore);
    await setCampaignFeatures(world.bridged, features);
    const before = await fingerprint(world.bridged);
    const { lines } = configureBridge(options);
    const texter = world.extras[5];
    const started = Date.now();
    const outcome = await world.driver.findNewCampaignContact({
      assignmentId: texter.assignmentId,
      numberContacts: 100,
      batchType: features.DYNAMICASSIGNMENT_BATCHES,
      user: { id: texter.userId }
    });
    const elapsed = Date.now() - started;
    assert.equal(outcome.found, false);
    assert.equal(await fingerprint(world.bridged), before, "nothing assigned");
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], new RegExp(`assignment ${texter.assignmentId} requestNewBatchCount: HTTP status ${status}, code ${code}: `));
    assert.ok(elapsed < withinMs, `answered in ${elapsed} ms`);
    assert.deepEqual(world.driverLines, []);
    return lines[0];
  }

  async function fakeService(handler) {
    const server = http.createServer(handler);
    const sockets = new Set();
    server.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    return {
      url: `http://127.0.0.1:${server.address().port}`,
      close: () => {
        for (const socket of sockets) socket.destroy();
        return new Promise((resolve) => server.close(resolve));
      }
    };
  }

  test("service down: nothing assigned, one line", async () => {
    const closed = await fakeService(() => {});
    const url = closed.url;
    await closed.close();
    await failsClosed({ options: { url }, code: "UNREACHABLE", status: "none" });
  });

  test("service slower than the timeout: nothing assigned, one line, within the timeout", async () => {
    const slow = await fakeService(() => {}); // never answers
    try {
      await failsClosed({ options: { url: slow.url, timeoutMs: 400 }, code: "TIMEOUT", status: "none", withinMs: 1400 });
    } finally {
      await slow.close();
    }
  });

  test("wrong token: nothing assigned, one line", async () => {
    await failsClosed({ options: { token: "not-the-token-0123456789" }, code: "UNAUTHORIZED", status: 401 });
  });

  test("a failing strategy (422): nothing assigned, one line", async () => {
    const line = await failsClosed({
      options: {},
      code: "STRATEGY_FAILED",
      status: 422,
      features: { DYNAMICASSIGNMENT_BATCHES: "fewer-than-n-replies", FEWER_THAN_N_REPLIES: "zero" }
    });
    assert.match(line, /fewer-than-n-replies/);
  });

  test("a junk descriptor from a fake service: nothing assigned, one line", async () => {
    const junk = await fakeService((request, response) => {
      request.resume();
      request.on("end", () => {
        response.writeHead(200, { "Content-Type": "application/json" });
        response.end(
          JSON.stringify({
            strategy: "all-texters",
            version: "junk",
            count: 100,
            countCap: 100,
            plan: { numberContacts: 100, contactsCount: 0 },
            selection: {
              batchQuery: { filter: { status: { kind: "any" }, assignment: "any", optedOut: null, timezone: "any" }, limit: null },
              hasCurrentQuery: null
            }
          })
        );
      });
    });
    try {
      await failsClosed({ options: { url: junk.url }, code: "INVALID_DESCRIPTOR", status: 200 });
    } finally {
      await junk.close();
    }
  });
}
