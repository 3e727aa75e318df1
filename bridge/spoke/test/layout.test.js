"use strict";
// The bridge inside Spoke's two layouts, `src/` and `build/server/` (where babel put
// `src/server/` at `build/server/server/`): copied into extensions/dynamicassignment-batches/
// with a one-line folder, loaded the way Spoke loads a strategy, it must find Spoke's own
// getConfig and getCampaignOffsets (babel's CommonJS output) by relative path.

const test = require("node:test");
const assert = require("node:assert/strict");
const fs = require("fs");
const os = require("os");
const path = require("path");

const { decision, sendJson, spokeArgs, spokeQueries, startFakeService } = require("./support/fake");

const BRIDGE = path.join(__dirname, "..", "spoke-batches");

/** Babel's CommonJS output for a module with named exports (or one default export). */
function babelModule(name, body, { asDefault = false } = {}) {
  const exportLine = asDefault
    ? `exports.default = { ${name} };`
    : `exports.${name} = ${name};`;
  return `"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\n${exportLine}\n${body}\n`;
}

const FAKE_CONFIG = `function getConfig(key, organization) {
  global.__fakeSpoke.configCalls.push([key, organization]);
  return global.__fakeSpoke.values[key];
}`;

const FAKE_ASSIGNMENT = `function getCampaignOffsets(campaign, organization, timezoneFilter) {
  global.__fakeSpoke.offsetCalls.push(timezoneFilter);
  return timezoneFilter
    ? { validOffsets: ["-9_1", ""], invalidOffsets: ["-4_1"] }
    : { validOffsets: ["-9_1"], invalidOffsets: ["-4_1"] };
}`;

/**
 * A Spoke tree under `root`, with Spoke's server at `serverDir` (relative), the extension
 * folder at `extensionsDir` (relative), the bridge copied into it and one one-line folder.
 */
function spokeTree(root, { serverDir, extensionsDir, asDefault }) {
  const api = path.join(root, serverDir, "api");
  fs.mkdirSync(path.join(api, "lib"), { recursive: true });
  fs.writeFileSync(path.join(api, "lib", "config.js"), babelModule("getConfig", FAKE_CONFIG, { asDefault }));
  fs.writeFileSync(path.join(api, "assignment.js"), babelModule("getCampaignOffsets", FAKE_ASSIGNMENT, { asDefault }));
  const batches = path.join(root, extensionsDir, "dynamicassignment-batches");
  fs.cpSync(BRIDGE, path.join(batches, "spoke-batches"), { recursive: true });
  fs.mkdirSync(path.join(batches, "sb-finished-replies-tz"));
  fs.writeFileSync(
    path.join(batches, "sb-finished-replies-tz", "index.js"),
    'module.exports = require("../spoke-batches").strategy({ name: "sb-finished-replies-tz", strategy: "finished-replies-tz", displayName: "After finishing current replies, within Texting Hours" });\n'
  );
  return batches;
}

let service;
test.before(async () => {
  service = await startFakeService((request, response, body) =>
    sendJson(
      response,
      200,
      decision({
        strategy: body.strategy,
        selection: {
          batchQuery: {
            filter: { status: { kind: "oneOf", statuses: ["needsMessage"] }, assignment: "unassigned", optedOut: false, timezone: "validNow" },
            limit: null
          },
          hasCurrentQuery: null
        },
        offsets: { valid: ["-5_1"], invalid: ["-8_1"] }
      })
    )
  );
});
test.after(() => service.close());

const layouts = [
  ["src/ (babel-compiled in place)", { serverDir: "src/server", extensionsDir: "src/extensions" }],
  ["build/server/ (prod-build-server output)", { serverDir: "build/server/server", extensionsDir: "build/server/extensions" }],
  ["build/server/ with default-exporting modules", { serverDir: "build/server/server", extensionsDir: "build/server/extensions", asDefault: true }]
];

for (const [label, layout] of layouts) {
  test(`Spoke's ${label}: getConfig and getCampaignOffsets are Spoke's own`, async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "spoke-layout-"));
    try {
      const batches = spokeTree(root, layout);
      global.__fakeSpoke = {
        values: { SPOKE_BATCHES_URL: service.url, SPOKE_BATCHES_TOKEN: "layout-token-0123456789" },
        configCalls: [],
        offsetCalls: []
      };
      // As Spoke's getDynamicAssignmentBatchPolicies does: require(`./${name}/index.js`).
      const policy = require(path.join(batches, "sb-finished-replies-tz", "index.js"));
      const lines = [];
      require(path.join(batches, "spoke-batches")).configure({ log: (line) => lines.push(line) });
      assert.equal(policy.name, "sb-finished-replies-tz");

      const args = spokeArgs();
      assert.equal(await policy.requestNewBatchCount(args), 250);
      args.numberContacts = 100;
      args.contactsCount = 12;
      const { batchQuery, hasCurrentQuery } = spokeQueries(100, args);
      const selection = await policy.selectContacts(batchQuery, hasCurrentQuery, args);

      assert.equal(service.requests.at(-1).headers.authorization, "Bearer layout-token-0123456789");
      assert.ok(global.__fakeSpoke.configCalls.every(([, organization]) => organization === undefined));
      assert.deepEqual(global.__fakeSpoke.offsetCalls, [true, false]);
      assert.deepEqual(selection.batchQuery.toSQL().bindings, [3, "needsMessage", false, "-9_1", "", 100]);
      assert.deepEqual(lines, []);
    } finally {
      delete global.__fakeSpoke;
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
}

test("the bridge folder holds only its runtime files, with no dependencies", () => {
  const files = fs.readdirSync(BRIDGE).sort();
  assert.deepEqual(files, ["breaker.js", "decision.js", "descriptors.js", "failure.js", "index.js", "settings.js", "spoke.js"]);
  for (const file of files) {
    const source = fs
      .readFileSync(path.join(BRIDGE, file), "utf8")
      .replace(/^\s*\/\/.*$/gm, "");
    const required = [...source.matchAll(/require\("([^"]+)"\)/g)].map((match) => match[1]);
    for (const name of required) {
      assert.ok(name.startsWith("./") || name === "path", `${file} requires ${name}: only Node built-ins and its own files`);
    }
  }
});

test("the example one-line folders have the generated form and load under their folder's name", () => {
  const examples = path.join(__dirname, "extension");
  const form =
    /^module\.exports = require\("\.\.\/spoke-batches"\)\.strategy\(\{ name: "([^"]+)", strategy: "([^"]+)", displayName: "([^"]+)" \}\);\n$/;
  const folders = fs.readdirSync(examples).filter((entry) => entry !== "spoke-batches").sort();
  assert.ok(folders.length >= 6);
  for (const folder of folders) {
    const file = path.join(examples, folder, "index.js");
    const match = form.exec(fs.readFileSync(file, "utf8"));
    assert.ok(match, `${file} is not one generated line`);
    assert.equal(match[1], folder);
    const policy = require(file);
    assert.equal(policy.name, folder);
    assert.equal(policy.displayName(), match[3]);
  }
});
