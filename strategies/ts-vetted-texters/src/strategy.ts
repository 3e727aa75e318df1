// `ts-vetted-texters`: "Vetted Texters can request a new batch", in TypeScript.
//
// A texter who is not vetted gets exactly one batch; a vetted texter (VETTED_TEXTER or a higher
// role in the campaign's organization) may keep requesting batches while contacts remain.
//
// This package is the template for TypeScript strategies: `spoke-batches new NAME --lang ts`
// copies it and sets "name" in package.json (the folder, package.json's name and name() must
// agree; name() is generated from package.json). Edit this file and run `make strategies`.
// The declarations in types/ are generated from the WIT (`npm run types`): a wrong role, status
// or field is a compile error. src/prelude.js gives you `Date` at the request's `now`,
// `console.*` into the host's log, a thrown Error as the request's error, and a `Math.random`
// seeded by the request.

import { anyContact, assignmentUserHasRole, countContacts } from "spoke:batches/host@0.1.0";
import type { BatchPlan, BatchRequest, ContactFilter, ContactSelection } from "spoke:batches/types@0.1.0";

export function displayName(): string {
  return "Vetted Texters can request a new batch";
}

export function requestNewBatchCount(request: BatchRequest): number {
  const { campaign, assignment } = request;

  // START WITH SOME BASE-LINE THINGS EVERY POLICY SHOULD HAVE.
  // A strategy owns ALL restrictions, even the obvious ones: keep these checks in every
  // strategy unless it deliberately makes an exception to them.
  if (!campaign.useDynamicAssignment || campaign.isArchived) {
    return 0;
  }
  if (assignment.maxContacts === 0 || !campaign.batchSize) {
    return 0;
  }
  // END OF THE BASE-LINE CHECKS.

  // ACCESS: a texter who is not vetted gets one batch only, so refuse them as soon as their
  // assignment holds any contact of this campaign. The role checked is the one of the
  // assignment's owner, not of whoever made the request.
  if (!assignmentUserHasRole("vetted-texter")) {
    const anyPrevious: ContactFilter = {
      status: { tag: "any" },
      assignment: "this-assignment",
      optedOut: undefined,
      timezone: "any",
    };
    if (anyContact(anyPrevious)) {
      return 0;
    }
  }

  // The contacts a new batch is drawn from: unassigned, not yet texted, not opted out.
  const available: ContactFilter = {
    status: { tag: "one-of", val: ["needs-message"] },
    assignment: "unassigned",
    optedOut: false,
    timezone: "any",
  };
  if (request.hasAny) {
    return anyContact(available) ? 1 : 0;
  }
  // The host hands out at most `countCap` contacts, so counting further is wasted work.
  return countContacts(available, request.countCap);
}

export function selectContacts(_request: BatchRequest, _plan: BatchPlan): ContactSelection {
  // Keep the host's default queries: a batch of unassigned needsMessage contacts that are not
  // opted out, and "has current" = this assignment's needsMessage contacts.
  return { batchQuery: undefined, hasCurrentQuery: undefined };
}
