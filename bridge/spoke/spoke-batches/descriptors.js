"use strict";
// The service's query descriptors: validated into plain values, then applied to Spoke's knex
// builders. Every condition starts with the campaign; a value that is not exactly one of the
// contract's forms is refused (INVALID_DESCRIPTOR), because a condition the bridge skipped
// would widen what Spoke claims.

const { BridgeFailure, Codes } = require("./failure");

const STATUSES = ["needsMessage", "needsResponse", "convo", "messaged", "closed", "UPDATING"];
const ASSIGNMENTS = ["any", "unassigned", "thisAssignment"];
const TIMEZONES = ["any", "validNow", "invalidNow"];
const FILTER_KEYS = ["status", "assignment", "optedOut", "timezone"];

function invalid(message) {
  return new BridgeFailure(Codes.INVALID_DESCRIPTOR, message, { status: 200 });
}

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function onlyKeys(value, allowed, what) {
  const extra = Object.keys(value).filter((key) => !allowed.includes(key));
  if (extra.length) {
    throw invalid(`${what} has unknown fields ${extra.join(", ")}; known: ${allowed.join(", ")}`);
  }
}

function parseStatus(value, what) {
  if (!isPlainObject(value)) {
    throw invalid(`${what}.status must be an object with a kind`);
  }
  if (value.kind === "any") {
    onlyKeys(value, ["kind"], `${what}.status`);
    return { kind: "any", statuses: [] };
  }
  if (value.kind !== "oneOf" && value.kind !== "noneOf") {
    throw invalid(`${what}.status.kind is ${JSON.stringify(value.kind)}; expected any, oneOf or noneOf`);
  }
  onlyKeys(value, ["kind", "statuses"], `${what}.status`);
  if (!Array.isArray(value.statuses)) {
    throw invalid(`${what}.status.statuses must be a list of message statuses`);
  }
  const unknown = value.statuses.filter((status) => !STATUSES.includes(status));
  if (unknown.length) {
    throw invalid(
      `${what}.status has unknown statuses ${JSON.stringify(unknown)}; known: ${STATUSES.join(", ")}`
    );
  }
  return { kind: value.kind, statuses: [...new Set(value.statuses)] };
}

/** A FILTER of the contract, checked: `{status, assignment, optedOut, timezone}`. */
function parseFilter(value, what) {
  if (!isPlainObject(value)) {
    throw invalid(`${what} must be a filter object`);
  }
  onlyKeys(value, FILTER_KEYS, what);
  const missing = FILTER_KEYS.filter((key) => !(key in value));
  if (missing.length) {
    throw invalid(`${what} lacks ${missing.join(", ")}`);
  }
  if (!ASSIGNMENTS.includes(value.assignment)) {
    throw invalid(`${what}.assignment is ${JSON.stringify(value.assignment)}; expected ${ASSIGNMENTS.join(", ")}`);
  }
  if (value.optedOut !== null && typeof value.optedOut !== "boolean") {
    throw invalid(`${what}.optedOut is ${JSON.stringify(value.optedOut)}; expected true, false or null`);
  }
  if (!TIMEZONES.includes(value.timezone)) {
    throw invalid(`${what}.timezone is ${JSON.stringify(value.timezone)}; expected ${TIMEZONES.join(", ")}`);
  }
  return {
    status: parseStatus(value.status, what),
    assignment: value.assignment,
    optedOut: value.optedOut,
    timezone: value.timezone
  };
}

/**
 * The selection of a batch answer for a plan of `numberContacts` (> 0): `{batchQuery: {filter,
 * limit} | null, hasCurrentQuery: filter | null}`, where null keeps Spoke's default. A batch
 * query must only claim unassigned contacts that are not opted out, and at most the plan.
 */
function parseSelection(value, numberContacts) {
  if (!isPlainObject(value)) {
    throw invalid("selection must be an object");
  }
  onlyKeys(value, ["batchQuery", "hasCurrentQuery"], "selection");
  let batchQuery = null;
  if (value.batchQuery !== null && value.batchQuery !== undefined) {
    if (!isPlainObject(value.batchQuery)) {
      throw invalid("selection.batchQuery must be {filter, limit} or null");
    }
    onlyKeys(value.batchQuery, ["filter", "limit"], "selection.batchQuery");
    const filter = parseFilter(value.batchQuery.filter, "selection.batchQuery.filter");
    if (filter.assignment !== "unassigned" || filter.optedOut !== false) {
      throw invalid(
        "selection.batchQuery.filter may only claim unassigned contacts that are not opted out " +
          `(it has assignment ${filter.assignment}, optedOut ${filter.optedOut})`
      );
    }
    const limit = value.batchQuery.limit === undefined ? null : value.batchQuery.limit;
    if (limit !== null && !(Number.isSafeInteger(limit) && limit >= 0 && limit <= numberContacts)) {
      throw invalid(
        `selection.batchQuery.limit is ${JSON.stringify(limit)}; expected null or 0..${numberContacts} (the plan)`
      );
    }
    batchQuery = { filter, limit };
  }
  const hasCurrentQuery =
    value.hasCurrentQuery === null || value.hasCurrentQuery === undefined
      ? null
      : parseFilter(value.hasCurrentQuery, "selection.hasCurrentQuery");
  return { batchQuery, hasCurrentQuery };
}

/** Spoke's default batch filter: the campaign's unassigned needsMessage contacts, not opted out. */
const DEFAULT_BATCH_FILTER = Object.freeze({
  status: { kind: "oneOf", statuses: ["needsMessage"] },
  assignment: "unassigned",
  optedOut: false,
  timezone: "any"
});

/**
 * Which timezone offsets `scope` ("validNow" | "invalidNow") accepts, given the VALID and INVALID
 * lists: null = every offset (no condition), [] = none, else the listed ones. One empty side puts
 * every offset on the other (texting hours not enforced: nothing is invalid).
 */
function offsetCondition(scope, offsets) {
  if (scope === "any") {
    return null;
  }
  const [wanted, others] =
    scope === "validNow" ? [offsets.valid, offsets.invalid] : [offsets.invalid, offsets.valid];
  if (others.length === 0) {
    return null;
  }
  return wanted.slice();
}

/**
 * Adds `filter`'s conditions to the knex builder `query`: the campaign first, then status,
 * assignment, opted-out and timezone. `scope` is `{campaignId, assignmentId, offsets()}`; the
 * offsets are only asked for when the filter has a timezone condition.
 */
function applyFilter(query, filter, scope) {
  query.where("campaign_id", scope.campaignId);
  const { kind, statuses } = filter.status;
  if (kind === "oneOf") {
    if (statuses.length === 0) {
      query.whereRaw("1 = 0");
    } else {
      query.whereIn("message_status", statuses);
    }
  } else if (kind === "noneOf" && statuses.length > 0) {
    query.whereNotIn("message_status", statuses);
  }
  if (filter.assignment === "unassigned") {
    query.whereNull("assignment_id");
  } else if (filter.assignment === "thisAssignment") {
    query.where("assignment_id", scope.assignmentId);
  }
  if (filter.optedOut !== null) {
    query.where("is_opted_out", filter.optedOut);
  }
  if (filter.timezone !== "any") {
    const accepted = offsetCondition(filter.timezone, scope.offsets());
    if (accepted === null) {
      // Every offset is on this side: no condition.
    } else if (accepted.length === 0) {
      query.whereRaw("1 = 0");
    } else {
      query.whereIn("timezone_offset", accepted);
    }
  }
  return query;
}

/** Makes Spoke's batch query claim nothing (the fail-closed answer of selectContacts). */
function matchNothing(batchQuery, campaignId) {
  if (!batchQuery || typeof batchQuery.whereRaw !== "function") {
    // Not a builder: `whereIn("id", [])` in Spoke's claim compiles to a condition that is false.
    return [];
  }
  if (campaignId !== undefined && campaignId !== null) {
    batchQuery.where("campaign_id", campaignId);
  }
  return batchQuery.whereRaw("1 = 0").limit(0);
}

module.exports = {
  DEFAULT_BATCH_FILTER,
  STATUSES,
  applyFilter,
  matchNothing,
  offsetCondition,
  parseFilter,
  parseSelection
};
