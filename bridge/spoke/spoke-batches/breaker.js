"use strict";
// The circuit breaker in front of the service, one per process (module state, shared by every
// strategy folder): when the service cannot be reached, each texter's click would otherwise
// wait a whole timeout for the same answer, 0.
//
// Closed: every call goes through. After FAILURES_TO_OPEN transport failures in a row (no HTTP
// answer: refused, reset, timed out) it opens: calls answer 0 at once, without a log line each,
// for OPEN_MS. Then exactly one call probes the service while the others still answer 0; an
// HTTP answer of any status closes the breaker (the service is there), a transport failure
// keeps it open for another OPEN_MS.

const FAILURES_TO_OPEN = 5;
const OPEN_MS = 10000;

/** What a caller may do now. */
const Admission = Object.freeze({ CALL: "call", PROBE: "probe", REJECT: "reject" });

class CircuitBreaker {
  constructor() {
    this.reset();
  }

  reset() {
    this.consecutiveFailures = 0;
    this.openUntil = null;
    this.probing = false;
    this.rejected = 0;
  }

  /** Whether a call may go to the service at `now` (ms). */
  admit(now) {
    if (this.openUntil === null) {
      return Admission.CALL;
    }
    if (now < this.openUntil || this.probing) {
      this.rejected += 1;
      return Admission.REJECT;
    }
    this.probing = true;
    return Admission.PROBE;
  }

  /**
   * Records an admitted call's outcome; returns the breaker event to log with it, if any:
   * `{event: "opened" | "still-open" | "closed", rejected}`.
   */
  record(admission, transportFailure, now) {
    if (admission === Admission.PROBE) {
      this.probing = false;
      if (transportFailure) {
        this.openUntil = now + OPEN_MS;
        return { event: "still-open" };
      }
      const rejected = this.rejected;
      this.reset();
      return { event: "closed", rejected };
    }
    if (!transportFailure) {
      this.consecutiveFailures = 0;
      return null;
    }
    this.consecutiveFailures += 1;
    if (this.openUntil === null && this.consecutiveFailures >= FAILURES_TO_OPEN) {
      this.openUntil = now + OPEN_MS;
      this.rejected = 0;
      return { event: "opened" };
    }
    return null;
  }
}

/** The process's breaker. */
const breaker = new CircuitBreaker();

/** The words logged with a breaker event. */
function describeEvent(event) {
  switch (event.event) {
    case "opened":
      return (
        `circuit breaker opened after ${FAILURES_TO_OPEN} transport failures in a row: ` +
        `answering 0 at once for ${OPEN_MS / 1000} s, then probing the service once`
      );
    case "still-open":
      return `circuit breaker stays open: the probe failed; next probe in ${OPEN_MS / 1000} s`;
    case "closed":
      return (
        `circuit breaker closed: the service answered the probe (${event.rejected} ` +
        "calls were answered 0 without calling it while it was open)"
      );
    default:
      return "";
  }
}

module.exports = { Admission, CircuitBreaker, FAILURES_TO_OPEN, OPEN_MS, breaker, describeEvent };
