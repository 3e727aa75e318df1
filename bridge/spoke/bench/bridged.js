#!/usr/bin/env node
"use strict";
// The bridge's benchmark: on a campaign of 1,000,000 contacts (PostgreSQL, with the claim
// index), the p50/p99 of
//   1. a bridged batch request: the Spoke driver with the bridge's all-texters (one decision
//      over HTTP, then Spoke's claim with the bridge's batch query);
//   2. the same driver running Spoke's own query sequence (all-texters decided in Spoke: a full
//      count(*) of the available contacts, then the claim with Spoke's default filter);
//   3. the decision endpoint alone (POST /v1/assignments/{id}/decision, batch mode).
// The three are interleaved round by round, so each sees the same machine and table.
//
//   SPOKE_BATCHES_BIN=target/release/spoke-batches BENCH_DATABASE_URL=postgres://… \
//     node bench/bridged.js OUT.md [--contacts 1000000] [--rounds 300]
//
// BENCH_DATABASE_URL defaults to TEST_DATABASE_URL. Writes a Markdown table to OUT.md.

const fs = require("fs");
const path = require("path");

const bridge = require("../spoke-batches");
const { SpokeDriver } = require("../e2e/spoke-driver");
const { spokeAllTexters } = require("../e2e/spoke-policies");
const { createSchema, postJson, runCli, seed, serve } = require("../e2e/support");

const TOKEN = "bench-bridge-token-0123456789";
const TEXTERS = 50;
const WARMUP = 20;

function options(argv) {
  const out = argv[0];
  if (!out || out.startsWith("--")) {
    throw new Error("usage: node bench/bridged.js OUT.md [--contacts N] [--rounds R]");
  }
  const value = (flag, fallback) => {
    const index = argv.indexOf(flag);
    return index === -1 ? fallback : Number(argv[index + 1]);
  };
  return { out, contacts: value("--contacts", 1000000), rounds: value("--rounds", 300) };
}

function percentile(sorted, fraction) {
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

function summary(samples) {
  const sorted = samples.slice().sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), n: sorted.length };
}

async function timed(action) {
  const started = process.hrtime.bigint();
  const result = await action();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, result };
}

async function main() {
  const { out, contacts, rounds } = options(process.argv.slice(2));
  if (!process.env.SPOKE_BATCHES_BIN) {
    throw new Error("set SPOKE_BATCHES_BIN to the spoke-batches binary (a release build)");
  }
  process.env.TEST_DATABASE_URL = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;
  if (!process.env.TEST_DATABASE_URL) {
    throw new Error("set BENCH_DATABASE_URL (or TEST_DATABASE_URL) to a PostgreSQL database");
  }
  const schema = await createSchema("bench");
  let service;
  try {
    process.stderr.write(`seeding ${contacts} contacts…\n`);
    const seeded = await seed(schema, contacts, TEXTERS);
    await runCli(["--database-url", schema.url, "migrate", "--claim-index"]);
    await schema.knex.raw("ANALYZE campaign_contact");
    const texters = seeded.texters.filter((texter) => texter.role === "TEXTER").slice(-TEXTERS);
    service = await serve(schema, TOKEN);

    bridge.resetForTests();
    const failures = [];
    const settings = { SPOKE_BATCHES_URL: service.url, SPOKE_BATCHES_TOKEN: TOKEN, SPOKE_BATCHES_TIMEOUT_MS: "10000" };
    bridge.configure({ getConfig: (key) => settings[key], log: (line) => failures.push(line) });
    const driver = new SpokeDriver({
      knex: schema.knex,
      extensionDir: path.join(__dirname, "..", "test", "extension"),
      log: (line) => failures.push(line),
      builtIn: { "spoke-all-texters": spokeAllTexters }
    });
    const setStrategy = (name) =>
      schema.knex("campaign").where("id", seeded.campaignId).update({ features: JSON.stringify({ DYNAMICASSIGNMENT_BATCHES: name }) });

    const samples = { bridged: [], spoke: [], decision: [] };
    for (let round = 0; round < WARMUP + rounds; round += 1) {
      const texter = texters[round % texters.length];
      const user = { id: texter.userId };
      const record = round >= WARMUP;

      await setStrategy("all-texters");
      const bridged = await timed(() =>
        driver.findNewCampaignContact({ assignmentId: texter.assignmentId, numberContacts: 100, user })
      );
      await setStrategy("spoke-all-texters");
      const spoke = await timed(() =>
        driver.findNewCampaignContact({ assignmentId: texter.assignmentId, numberContacts: 100, user })
      );
      await setStrategy("all-texters");
      const decision = await timed(() =>
        postJson(`${service.url}/v1/assignments/${texter.assignmentId}/decision`, TOKEN, {
          strategy: "all-texters",
          mode: "batch",
          texterId: texter.userId
        })
      );
      if (!bridged.result.found || !spoke.result.found || decision.result.status !== 200) {
        throw new Error(
          `round ${round}: bridged found ${bridged.result.found}, Spoke's found ${spoke.result.found}, ` +
            `decision ${decision.result.status} ${JSON.stringify(decision.result.body)}\n${failures.join("\n")}`
        );
      }
      if (record) {
        samples.bridged.push(bridged.ms);
        samples.spoke.push(spoke.ms);
        samples.decision.push(decision.ms);
      }
    }

    const rows = [
      ["bridged request (decision over HTTP + Spoke's claim)", summary(samples.bridged)],
      ["Spoke's own sequence (full count(*) + claim)", summary(samples.spoke)],
      ["decision endpoint alone (POST /decision)", summary(samples.decision)]
    ];
    const format = (ms) => ms.toFixed(2);
    const table = [
      `## 8. The Spoke bridge: bridged request vs Spoke's own (${contacts.toLocaleString("en-US")} contacts, PostgreSQL, claim index)`,
      "",
      "| measurement | p50 (ms) | p99 (ms) | requests |",
      "|---|---:|---:|---:|",
      ...rows.map(([label, stats]) => `| ${label} | ${format(stats.p50)} | ${format(stats.p99)} | ${stats.n} |`),
      "",
      `Spoke's own sequence / bridged request at p50: **${(rows[1][1].p50 / rows[0][1].p50).toFixed(1)}x** ` +
        "faster bridged (target: at least 10x).",
      "",
      `Both requests run the same driver (bridge/spoke/e2e/spoke-driver.js: Spoke's findNewCampaignContact ` +
        `steps on knex, batch of 100, round-robin over ${TEXTERS} texters, ${WARMUP} warm-up rounds, ` +
        "interleaved); the decision is timed from the client.",
      ""
    ].join("\n");
    fs.writeFileSync(out, table);
    process.stdout.write(table);
  } finally {
    bridge.resetForTests();
    if (service) await service.stop();
    await schema.drop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
