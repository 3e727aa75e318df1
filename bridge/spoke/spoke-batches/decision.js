"use strict";
// One call to the service's `POST /v1/assignments/{id}/decision` and the validation of its
// answer into plain, checked values (see the contract in the README). Anything unexpected is a
// BridgeFailure: a transport failure (no HTTP answer), an error answer with the service's own
// code, or a malformed answer.

const { BridgeFailure, Codes, oneLine } = require("./failure");
const { parseSelection } = require("./descriptors");

/** The contract's request modes. */
const Mode = Object.freeze({ BATCH: "batch", HAS_ANY: "has-any" });

function isCount(value) {
  return Number.isSafeInteger(value) && value >= 0;
}

function malformed(message) {
  return new BridgeFailure(Codes.MALFORMED_ANSWER, message, { status: 200 });
}

function causeText(error) {
  const cause = error && error.cause;
  if (cause && (cause.code || cause.message)) {
    return [cause.code, cause.message].filter(Boolean).join(" ");
  }
  return (error && error.message) || String(error);
}

/**
 * POSTs `body` to the decision endpoint of `assignmentId`, within `settings.timeoutMs` for the
 * whole exchange (headers and body), and returns the parsed JSON of a 2xx answer.
 */
async function postDecision(fetchImpl, settings, assignmentId, body) {
  const url = `${settings.base}/v1/assignments/${assignmentId}/decision`;
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (settings.token) {
    headers.Authorization = `Bearer ${settings.token}`;
  }
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, settings.timeoutMs);
  let status = null;
  try {
    const response = await fetchImpl(url, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      signal: controller.signal
    });
    status = response.status;
    const text = await response.text();
    if (status < 200 || status > 299) {
      throw errorAnswer(status, text);
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw malformed(`the answer is not JSON: ${oneLine(text.slice(0, 200))}`);
    }
  } catch (error) {
    if (error instanceof BridgeFailure) {
      throw error;
    }
    if (timedOut) {
      throw new BridgeFailure(
        Codes.TIMEOUT,
        `no complete answer from ${url} within SPOKE_BATCHES_TIMEOUT_MS=${settings.timeoutMs} ms`,
        { status, transport: true }
      );
    }
    throw new BridgeFailure(Codes.UNREACHABLE, `cannot reach ${url}: ${causeText(error)}`, {
      status,
      transport: true
    });
  } finally {
    clearTimeout(timer);
  }
}

/** The failure for a non-2xx answer, with the service's `{"error":{"code","message"}}` if any. */
function errorAnswer(status, text) {
  let code = `HTTP_${status}`;
  let message = text ? oneLine(text.slice(0, 300)) : "(empty body)";
  try {
    const parsed = JSON.parse(text);
    const error = parsed && parsed.error;
    if (error && typeof error.code === "string" && error.code) {
      code = error.code;
      message = typeof error.message === "string" ? error.message : message;
    }
  } catch (ignored) {
    // Not the service's JSON (a proxy's page, say): keep the status and the body's start.
  }
  return new BridgeFailure(code, message, { status });
}

function parsePlan(value, what) {
  if (value === null || value === undefined) {
    return null;
  }
  const keys = value && typeof value === "object" ? Object.keys(value) : [];
  if (
    keys.length !== 2 ||
    !Number.isSafeInteger(value.numberContacts) ||
    !isCount(value.contactsCount)
  ) {
    throw malformed(`${what} is ${JSON.stringify(value)}: expected {numberContacts, contactsCount}`);
  }
  return { numberContacts: value.numberContacts, contactsCount: value.contactsCount };
}

function parseOffsets(value) {
  if (value === null || value === undefined) {
    return null;
  }
  const list = (side) =>
    Array.isArray(value[side]) && value[side].every((offset) => typeof offset === "string");
  if (typeof value !== "object" || !list("valid") || !list("invalid")) {
    throw malformed("offsets must be {valid: [string], invalid: [string]}");
  }
  return { valid: value.valid.slice(), invalid: value.invalid.slice() };
}

/**
 * Checks a 200 answer against the request it answers: the same strategy, a whole count, in
 * batch mode the plan that was sent (when one was) and a selection whose descriptors are valid
 * for that plan. Unknown top-level fields are ignored (the service may add diagnostics); an
 * unknown field inside a descriptor is not (ignoring it could widen the claim).
 */
function parseAnswer(answer, request) {
  if (!answer || typeof answer !== "object" || Array.isArray(answer)) {
    throw malformed("the answer is not a JSON object");
  }
  if (answer.strategy !== request.strategy) {
    throw malformed(
      `the answer is for strategy ${JSON.stringify(answer.strategy)}, not ${request.strategy}`
    );
  }
  if (!isCount(answer.count)) {
    throw malformed(`count is ${JSON.stringify(answer.count)}: expected a whole number >= 0`);
  }
  const claimOrder = answer.claimOrder === undefined ? null : answer.claimOrder;
  if (claimOrder !== null && typeof claimOrder !== "string") {
    throw malformed("claimOrder must be a string when present");
  }
  const decision = {
    strategy: answer.strategy,
    version: typeof answer.version === "string" ? answer.version : null,
    count: answer.count,
    plan: null,
    selection: null,
    claimByIndex: claimOrder === "claim-index",
    offsets: parseOffsets(answer.offsets)
  };
  if (request.mode === Mode.HAS_ANY) {
    return decision;
  }
  decision.plan = parsePlan(answer.plan, "plan");
  if (!decision.plan) {
    throw malformed("a batch answer has no plan");
  }
  if (
    request.plan &&
    (decision.plan.numberContacts !== request.plan.numberContacts ||
      decision.plan.contactsCount !== request.plan.contactsCount)
  ) {
    throw malformed(
      `the answer's plan ${JSON.stringify(decision.plan)} is not the plan sent ` +
        JSON.stringify(request.plan)
    );
  }
  if (decision.plan.numberContacts > 0) {
    if (answer.selection === null || answer.selection === undefined) {
      throw malformed(
        `the plan asks for ${decision.plan.numberContacts} contacts but the answer has no selection`
      );
    }
    decision.selection = parseSelection(answer.selection, decision.plan.numberContacts);
  }
  return decision;
}

module.exports = { Mode, parseAnswer, postDecision };
