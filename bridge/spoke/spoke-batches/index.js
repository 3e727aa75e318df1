"use strict";
// The Spoke bridge: a Spoke dynamic-assignment batch strategy whose decisions come from the
// spoke-batches service. Each strategy folder Spoke lists in DYNAMICASSIGNMENT_BATCHES is one
// line, `module.exports = require("../spoke-batches").strategy({name, strategy, displayName})`;
// this module gives it Spoke's strategy shape:
//
// - requestNewBatchCount(args): one POST /v1/assignments/{id}/decision; the answer is kept on
//   Spoke's shared arguments object (Spoke hands the same object to selectContacts, with the
//   numberContacts and contactsCount it computed in between) and its count returned.
// - selectContacts(batchQuery, hasCurrentQuery, args): the kept selection when Spoke's plan is
//   the one the service assumed, else one more call with Spoke's plan; the descriptors are
//   applied to Spoke's own knex builders.
//
// It never throws (Spoke catches nothing around a strategy: a throw is a dead button): every
// failure answers 0, or a batch query that matches nothing, with one log line.

const { Admission, breaker, describeEvent } = require("./breaker");
const { Mode, parseAnswer, postDecision } = require("./decision");
const { DEFAULT_BATCH_FILTER, applyFilter, matchNothing } = require("./descriptors");
const { BridgeFailure, Codes, asFailure, failureLine } = require("./failure");
const { readSettings } = require("./settings");
const spoke = require("./spoke");

/** Where the first call's decision waits for selectContacts on Spoke's arguments object. */
const DECISION = Symbol.for("spoke-batches.bridge.decision");

/** A positive whole id (Spoke's ids are numbers; a bigint id may arrive as a string). */
function idOf(value, what) {
  const id = typeof value === "string" && /^[0-9]+$/.test(value) ? Number(value) : value;
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new BridgeFailure(
      Codes.BAD_ARGUMENTS,
      `Spoke's arguments carry no usable ${what} (${JSON.stringify(value)})`
    );
  }
  return id;
}

function assignmentIdOf(args) {
  return idOf(args && args.assignment && args.assignment.id, "assignment.id");
}

function texterIdOf(args) {
  const texter = args.texter;
  const id = texter && texter.id !== undefined && texter.id !== null ? texter.id : args.assignment.user_id;
  return idOf(id, "texter.id or assignment.user_id");
}

/**
 * Asks the service for a decision (through the breaker) and returns it validated; throws a
 * BridgeFailure, with the breaker's event attached when the call changed the breaker.
 */
async function decide(context, args, mode, plan) {
  const settings = readSettings(spoke.getConfig);
  const assignmentId = assignmentIdOf(args);
  const body = { strategy: context.strategy, mode, texterId: texterIdOf(args) };
  if (plan) {
    body.plan = plan;
  }
  const now = spoke.requestTime();
  if (now !== undefined) {
    body.now = now;
  }
  const admission = breaker.admit(spoke.clock());
  if (admission === Admission.REJECT) {
    const rejected = new BridgeFailure(
      "CIRCUIT_OPEN",
      "the circuit breaker is open after repeated transport failures"
    );
    rejected.silent = true;
    throw rejected;
  }
  let raw;
  try {
    raw = await postDecision(spoke.fetchFunction(), settings, assignmentId, body);
  } catch (error) {
    const failure = asFailure(error);
    // Any HTTP answer, even an error, shows the service is there.
    failure.breakerEvent = breaker.record(admission, failure.transport, spoke.clock());
    throw failure;
  }
  const event = breaker.record(admission, false, spoke.clock());
  if (event) {
    spoke.logFunction()(`spoke-batches bridge: ${describeEvent(event)}`);
  }
  return parseAnswer(raw, { strategy: context.strategy, mode, plan: plan || null });
}

/** The one log line of a failed call (none for a call the open breaker answered). */
function report(context, call, args, error, answered) {
  const failure = asFailure(error);
  if (failure.silent) {
    return;
  }
  const assignment = args && args.assignment && args.assignment.id;
  const line = failureLine(
    { ...context, call, assignmentId: assignment === undefined ? "(unknown)" : assignment },
    failure,
    answered,
    failure.breakerEvent ? describeEvent(failure.breakerEvent) : ""
  );
  try {
    spoke.logFunction()(line);
  } catch (ignored) {
    // A broken logger must not turn a clean 0 into a dead button.
  }
}

async function requestNewBatchCount(context, args) {
  const hasAny = Boolean(args && args.hasAny);
  try {
    if (args && !hasAny) {
      args[DECISION] = null;
    }
    const decision = await decide(context, args, hasAny ? Mode.HAS_ANY : Mode.BATCH, null);
    if (!hasAny) {
      args[DECISION] = { folder: context.name, decision };
    }
    return decision.count;
  } catch (error) {
    report(context, hasAny ? "requestNewBatchCount(hasAny)" : "requestNewBatchCount", args, error, "answered 0");
    return 0;
  }
}

/** A fresh `campaign_contact` builder on Spoke's knex, for a replacement hasCurrentQuery. */
function contactQuery(args, hasCurrentQuery) {
  if (args.r && typeof args.r.knex === "function") {
    return args.r.knex("campaign_contact");
  }
  if (hasCurrentQuery && typeof hasCurrentQuery.clone === "function") {
    return hasCurrentQuery.clone().clearWhere();
  }
  throw new BridgeFailure(
    Codes.BAD_ARGUMENTS,
    "Spoke's arguments carry no knex (args.r.knex) to build the hasCurrentQuery with"
  );
}

/**
 * The VALID and INVALID offset lists by Spoke's own texting-hours rules, each with Spoke's
 * handling of contacts of unknown timezone (""): VALID from getCampaignOffsets(…, true),
 * INVALID from getCampaignOffsets(…, false). Outside Spoke, the service's lists.
 */
function textingHoursOffsets(args, decision) {
  const getCampaignOffsets = spoke.campaignOffsetsFunction(spoke.logFunction());
  if (!getCampaignOffsets) {
    if (decision.offsets) {
      return decision.offsets;
    }
    throw new BridgeFailure(
      Codes.SPOKE_OFFSETS,
      "Spoke's getCampaignOffsets is not available and the service's answer carries no offsets"
    );
  }
  let valid;
  let invalid;
  try {
    valid = getCampaignOffsets(args.campaign, args.organization, true).validOffsets;
    invalid = getCampaignOffsets(args.campaign, args.organization, false).invalidOffsets;
  } catch (error) {
    throw new BridgeFailure(
      Codes.SPOKE_OFFSETS,
      `Spoke's getCampaignOffsets failed: ${(error && error.message) || error}`
    );
  }
  const strings = (list) => Array.isArray(list) && list.every((offset) => typeof offset === "string");
  if (!strings(valid) || !strings(invalid)) {
    throw new BridgeFailure(
      Codes.SPOKE_OFFSETS,
      "Spoke's getCampaignOffsets returned no validOffsets/invalidOffsets lists"
    );
  }
  return { valid, invalid };
}

function keptDecision(context, args, plan) {
  const kept = args[DECISION];
  if (!kept || kept.folder !== context.name) {
    return null;
  }
  const assumed = kept.decision.plan;
  return assumed.numberContacts === plan.numberContacts &&
    assumed.contactsCount === plan.contactsCount
    ? kept.decision
    : null;
}

async function selectContacts(context, batchQuery, hasCurrentQuery, args) {
  const campaignId = args && args.campaign ? args.campaign.id : undefined;
  try {
    const numberContacts = args.numberContacts;
    if (!(numberContacts > 0)) {
      // Spoke claims nothing here anyway (LIMIT 0, or a SQL error when negative).
      return { batchQuery: matchNothing(batchQuery, campaignId) };
    }
    if (!Number.isSafeInteger(numberContacts) || !Number.isSafeInteger(args.contactsCount)) {
      throw new BridgeFailure(
        Codes.BAD_ARGUMENTS,
        `Spoke's plan is numberContacts ${JSON.stringify(numberContacts)}, contactsCount ` +
          `${JSON.stringify(args.contactsCount)}: expected whole numbers`
      );
    }
    idOf(campaignId, "campaign.id");
    const plan = { numberContacts, contactsCount: args.contactsCount };
    const decision = keptDecision(context, args, plan) || (await decide(context, args, Mode.BATCH, plan));
    if (decision.count === 0) {
      // Asked again with Spoke's plan, the strategy now says "not eligible".
      return { batchQuery: matchNothing(batchQuery, campaignId) };
    }
    let offsets = null;
    const scope = {
      campaignId,
      assignmentId: assignmentIdOf(args),
      offsets: () => {
        offsets = offsets || textingHoursOffsets(args, decision);
        return offsets;
      }
    };
    const { selection } = decision;
    const replacement =
      selection.hasCurrentQuery &&
      applyFilter(contactQuery(args, hasCurrentQuery), selection.hasCurrentQuery, scope);
    const batch = selection.batchQuery;
    applyFilter(batchQuery, batch ? batch.filter : DEFAULT_BATCH_FILTER, scope);
    batchQuery.limit(batch && batch.limit !== null ? batch.limit : numberContacts);
    if (decision.claimByIndex) {
      // Only the claim index provides this order, so the claim reads its first entries.
      batchQuery.orderByRaw("CAST(id AS BIGINT)");
    }
    return replacement ? { batchQuery, hasCurrentQuery: replacement } : { batchQuery };
  } catch (error) {
    report(context, "selectContacts", args, error, "the batch query matches nothing");
    try {
      return { batchQuery: matchNothing(batchQuery, campaignId) };
    } catch (ignored) {
      return { batchQuery: [] };
    }
  }
}

function checkedName(value, what) {
  if (typeof value !== "string" || !/^[a-z0-9][a-z0-9_-]*$/i.test(value)) {
    throw new TypeError(
      `spoke-batches bridge: ${what} is ${JSON.stringify(value)}; expected a strategy name ` +
        "(letters, digits, '-' and '_')"
    );
  }
  return value;
}

/**
 * A Spoke strategy module for the folder `name`, decided by the spoke-batches strategy
 * `strategy`. Throws at load time (Spoke logs a failed load and skips the folder) for a
 * malformed name; never when called.
 */
function strategy(options) {
  const { name, strategy: strategyName, displayName } = options || {};
  const context = Object.freeze({
    name: checkedName(name, "name"),
    strategy: checkedName(strategyName, "strategy")
  });
  const title = typeof displayName === "string" && displayName ? displayName : context.strategy;
  return Object.freeze({
    name: context.name,
    displayName: () => title,
    requestNewBatchCount: (args) => requestNewBatchCount(context, args),
    selectContacts: (batchQuery, hasCurrentQuery, args) =>
      selectContacts(context, batchQuery, hasCurrentQuery, args)
  });
}

/** Forgets the breaker's state and every configured dependency (tests). */
function resetForTests() {
  breaker.reset();
  spoke.resetDependencies();
}

module.exports = { configure: spoke.configure, resetForTests, strategy };
