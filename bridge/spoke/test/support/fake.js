"use strict";
// Test doubles: a fake spoke-batches service on a local port, Spoke's arguments and knex
// builders (knex for PostgreSQL without a connection: queries are compiled, never run), and a
// captured log.

const http = require("http");
const knexFactory = require("knex");

const bridge = require("../../spoke-batches");

/** knex for PostgreSQL, compile-only. */
const db = knexFactory({ client: "pg" });

/** The fake service: `respond(request, response, body)` decides each answer; requests are recorded. */
async function startFakeService(respond) {
  const requests = [];
  const server = http.createServer((request, response) => {
    let text = "";
    request.on("data", (chunk) => {
      text += chunk;
    });
    request.on("end", () => {
      const body = text ? JSON.parse(text) : null;
      requests.push({ method: request.method, url: request.url, headers: request.headers, body });
      service.respond(request, response, body);
    });
  });
  const sockets = new Set();
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const service = {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    respond,
    async close() {
      for (const socket of sockets) {
        socket.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    }
  };
  return service;
}

function sendJson(response, status, value) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  response.writeHead(status, { "Content-Type": "application/json" });
  response.end(text);
}

const DEFAULT_FILTER = {
  status: { kind: "oneOf", statuses: ["needsMessage"] },
  assignment: "unassigned",
  optedOut: false,
  timezone: "any"
};

/** A decision answer of the contract, with overrides. */
function decision(overrides = {}) {
  return {
    strategy: "vetted-texters",
    version: "0c1d2e3f4a5b",
    count: 250,
    countCap: 100,
    plan: { numberContacts: 100, contactsCount: 12 },
    selection: { batchQuery: null, hasCurrentQuery: null },
    offsets: { valid: ["-5_1", "-6_1"], invalid: ["-8_1"] },
    ...overrides
  };
}

/** Spoke's shared arguments object for assignment 41 of campaign 3 (texter 7). */
function spokeArgs(overrides = {}) {
  return {
    r: { knex: db },
    loaders: {},
    cacheableData: {},
    organization: { id: 1, features: "{}", texting_hours_enforced: true },
    campaign: { id: 3, organization_id: 1, batch_size: 100, use_dynamic_assignment: true },
    assignment: { id: 41, user_id: 7, campaign_id: 3, max_contacts: null },
    texter: { id: 7 },
    ...overrides
  };
}

/** Spoke's two builders for a plan of `numberContacts` (findNewCampaignContact step 5). */
function spokeQueries(numberContacts, args) {
  return {
    batchQuery: db("campaign_contact").select("id").limit(numberContacts).forUpdate(),
    hasCurrentQuery: db("campaign_contact").where({
      assignment_id: args.assignment.id,
      message_status: "needsMessage",
      is_opted_out: false,
      campaign_id: args.campaign.id
    })
  };
}

/** Configures the bridge for a test: service URL and token, a captured log, fixed offsets. */
function useBridge(options = {}) {
  const { url, timeoutMs, now, offsets, fetch } = options;
  const token = "token" in options ? options.token : "0123456789abcdef-token";
  bridge.resetForTests();
  const lines = [];
  const config = {
    SPOKE_BATCHES_URL: url,
    SPOKE_BATCHES_TOKEN: token,
    SPOKE_BATCHES_TIMEOUT_MS: timeoutMs === undefined ? undefined : String(timeoutMs)
  };
  const getCampaignOffsets =
    offsets === null
      ? undefined
      : (campaign, organization, timezoneFilter) => {
          const lists = offsets || { valid: ["-5_1", "-6_1"], invalid: ["-7_1", "-8_1"] };
          const validOffsets = lists.valid.slice();
          const invalidOffsets = lists.invalid.slice();
          // Spoke's rule for contacts of unknown timezone: "" joins the side asked for.
          if (timezoneFilter === true && lists.unknownValid) validOffsets.push("");
          if (timezoneFilter === false && lists.unknownValid === false) invalidOffsets.push("");
          return { validOffsets, invalidOffsets };
        };
  bridge.configure({
    getConfig: (key, ...rest) => {
      config.calls = (config.calls || []).concat([[key, ...rest]]);
      return config[key];
    },
    getCampaignOffsets: getCampaignOffsets || null,
    log: (line) => lines.push(line),
    now: now || null,
    fetch: fetch || null
  });
  return { lines, config };
}

module.exports = {
  DEFAULT_FILTER,
  bridge,
  db,
  decision,
  sendJson,
  spokeArgs,
  spokeQueries,
  startFakeService,
  useBridge
};
