"use strict";
// The end-to-end test's world: the spoke-batches binary (SPOKE_BATCHES_BIN), PostgreSQL
// (TEST_DATABASE_URL) with one schema per database under test, created and dropped here, and
// `spoke-batches serve` processes on free loopback ports.

const { execFile, spawn } = require("child_process");
const path = require("path");
const knexFactory = require("knex");

const REPO = path.resolve(__dirname, "..", "..", "..");

/** Why the end-to-end tests cannot run here, or null. Under CI=true a missing input fails. */
function missingInputs() {
  const missing = ["SPOKE_BATCHES_BIN", "TEST_DATABASE_URL"].filter((key) => !process.env[key]);
  if (!missing.length) {
    return null;
  }
  return `${missing.join(" and ")} not set: the end-to-end tests need the spoke-batches binary and PostgreSQL`;
}

function binary() {
  return process.env.SPOKE_BATCHES_BIN;
}

function strategiesDir() {
  return process.env.SPOKE_BATCHES_STRATEGIES || path.join(REPO, "strategies", "dist");
}

let nextSchema = 0;

/** A new, empty PostgreSQL schema: its name, the URL the binary takes, and a knex on it. */
async function createSchema(label) {
  const base = process.env.TEST_DATABASE_URL;
  const name = `sb_bridge_${label}_${process.pid}_${Date.now() % 1000000}_${nextSchema++}`;
  const admin = knexFactory({ client: "pg", connection: base, pool: { min: 0, max: 1 } });
  try {
    await admin.raw(`CREATE SCHEMA ${name}`);
  } finally {
    await admin.destroy();
  }
  const separator = base.includes("?") ? "&" : "?";
  const url = `${base}${separator}options=-c%20search_path%3D${name}`;
  const knex = knexFactory({
    client: "pg",
    connection: base,
    searchPath: [name],
    pool: { min: 0, max: 40 }
  });
  return {
    name,
    url,
    knex,
    async drop() {
      await knex.destroy();
      const dropper = knexFactory({ client: "pg", connection: base, pool: { min: 0, max: 1 } });
      try {
        await dropper.raw(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      } finally {
        await dropper.destroy();
      }
    }
  };
}

/** Runs `spoke-batches ARGS` and returns its one JSON object (stdout). */
function runCli(args, env = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      binary(),
      args,
      { cwd: REPO, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`spoke-batches ${args.join(" ")} failed: ${error.message}\n${stdout}\n${stderr}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout));
        } catch (parseError) {
          reject(new Error(`spoke-batches ${args.join(" ")} printed no JSON: ${stdout}`));
        }
      }
    );
  });
}

/** Seeds the demo (`seed --contacts N --texters T`) into `schema`; returns the summary. */
function seed(schema, contacts, texters) {
  return runCli(["--database-url", schema.url, "seed", "--contacts", String(contacts), "--texters", String(texters), "--quiet"]);
}

/**
 * Starts `spoke-batches serve` on `schema` on a free loopback port (`--listen 127.0.0.1:0`; the
 * port is read from the line it prints) with `token`; resolves to `{url, stop(), stderr()}`.
 */
function serve(schema, token) {
  const args = [
    "--database-url",
    schema.url,
    "--strategies",
    strategiesDir(),
    "serve",
    "--listen",
    "127.0.0.1:0",
    "--no-watch"
  ];
  const child = spawn(binary(), args, {
    cwd: REPO,
    env: { ...process.env, SPOKE_BATCHES_TOKEN: token, RUST_LOG: process.env.RUST_LOG || "warn" },
    stdio: ["ignore", "pipe", "pipe"]
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`spoke-batches serve did not start within 120 s:\n${stderr}`));
    }, 120000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`spoke-batches serve exited with ${code}:\n${stderr}`));
    });
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const line = stdout.split("\n").find((candidate) => candidate.includes('"listening"'));
      if (!line) {
        return;
      }
      clearTimeout(timer);
      const { listening } = JSON.parse(line);
      resolve({
        url: listening,
        stderr: () => stderr,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) {
              done();
              return;
            }
            child.removeAllListeners("exit");
            child.on("exit", () => done());
            child.kill("SIGTERM");
          })
      });
    });
  });
}

/** POSTs JSON with the bearer token; resolves to `{status, body}`. */
async function postJson(url, token, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify(body)
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function getJson(url, token) {
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json() };
}

module.exports = { REPO, createSchema, getJson, missingInputs, postJson, runCli, seed, serve, strategiesDir };
