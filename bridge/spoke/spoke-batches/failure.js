"use strict";
// Why a bridged call answered "nothing": one typed value per failure, and the one log line
// Spoke's operator sees for it. Spoke catches nothing around a strategy, so every failure ends
// here as a count of 0 or a batch query that matches nothing, never as a thrown error.

/** A failed bridged call. `transport` marks failures with no HTTP answer (the breaker counts them). */
class BridgeFailure extends Error {
  /**
   * @param {string} code machine-readable reason (the service's error code, or one of ours)
   * @param {string} message what went wrong and what to do
   * @param {{status?: number|null, transport?: boolean}} [details]
   */
  constructor(code, message, details = {}) {
    super(message);
    this.name = "BridgeFailure";
    this.code = code;
    this.status = details.status == null ? null : details.status;
    this.transport = Boolean(details.transport);
  }
}

/** Our own codes (the service's codes pass through unchanged). */
const Codes = Object.freeze({
  NOT_CONFIGURED: "NOT_CONFIGURED",
  BAD_CONFIG: "BAD_CONFIG",
  BAD_ARGUMENTS: "BAD_ARGUMENTS",
  UNREACHABLE: "UNREACHABLE",
  TIMEOUT: "TIMEOUT",
  MALFORMED_ANSWER: "MALFORMED_ANSWER",
  INVALID_DESCRIPTOR: "INVALID_DESCRIPTOR",
  SPOKE_OFFSETS: "SPOKE_OFFSETS",
  INTERNAL: "INTERNAL"
});

const MAX_MESSAGE = 500;

/** A message on one line, cut to a readable length (service bodies and stack-less errors). */
function oneLine(text) {
  const flat = String(text).replace(/\s+/g, " ").trim();
  return flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE)}…` : flat;
}

/** Turns anything thrown inside the bridge into a BridgeFailure (a bug of ours stays visible). */
function asFailure(error) {
  if (error instanceof BridgeFailure) {
    return error;
  }
  const message = error && error.message ? error.message : String(error);
  return new BridgeFailure(Codes.INTERNAL, `unexpected error in the bridge: ${message}`);
}

/**
 * The log line for one failed call: which Spoke strategy folder and spoke-batches strategy,
 * which assignment, the HTTP status (or none), the code and the message, and what Spoke was told.
 */
function failureLine(context, failure, answered, suffix) {
  const status = failure.status == null ? "none" : String(failure.status);
  const tail = suffix ? `; ${suffix}` : "";
  return (
    `spoke-batches bridge: strategy ${context.name} (spoke-batches strategy ${context.strategy}) ` +
    `assignment ${context.assignmentId} ${context.call}: HTTP status ${status}, ` +
    `code ${failure.code}: ${oneLine(failure.message)}; ${answered}${tail}`
  );
}

module.exports = { BridgeFailure, Codes, asFailure, failureLine, oneLine };
