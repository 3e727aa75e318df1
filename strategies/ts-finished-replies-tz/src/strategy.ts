// `ts-finished-replies-tz`: "After finishing current replies, within Texting Hours", Spoke's
// default strategy, in TypeScript.
//
// A texter with replies waiting that they may answer now gets nothing until they answer them;
// a batch holds only contacts whose timezone is within texting hours now. The count covers all
// timezones (as in Spoke); only the selection keeps the valid ones. The declarations in types/
// are generated from the WIT (`npm run types`): a wrong enum string or field does not compile.

import { anyContact, countContacts } from "spoke:batches/host@0.1.0";
import type { BatchPlan, BatchRequest, ContactFilter, ContactSelection } from "spoke:batches/types@0.1.0";

/** Spoke stops handing out initial texts this long after a campaign's `dueBy`. */
const PAST_DUE_GRACE_SECONDS = 24n * 60n * 60n;

export function displayName(): string {
  return "After finishing current replies, within Texting Hours";
}

export function requestNewBatchCount(request: BatchRequest): number {
  const { campaign } = request;

  // START WITH SOME BASE-LINE THINGS EVERY POLICY SHOULD HAVE.
  // A strategy owns ALL restrictions, even the obvious ones: keep these checks in every
  // strategy unless it deliberately makes an exception to them.
  if (!campaign.useDynamicAssignment || campaign.isArchived) {
    return 0;
  }
  if (request.assignment.maxContacts === 0 || !campaign.batchSize) {
    return 0;
  }
  // END OF THE BASE-LINE CHECKS.

  const available: ContactFilter = {
    status: { tag: "one-of", val: ["needs-message"] },
    assignment: "unassigned",
    optedOut: false,
    timezone: "any",
  };
  // The host hands out at most `countCap` contacts, so counting further is wasted work.
  const availableCount = request.hasAny
    ? Number(anyContact(available))
    : countContacts(available, request.countCap);

  // Make sure they don't have any replies waiting that they may answer now.
  if (availableCount > 0) {
    const openReplies: ContactFilter = {
      status: { tag: "one-of", val: ["needs-response"] },
      assignment: "this-assignment",
      optedOut: false,
      timezone: "valid-now",
    };
    if (anyContact(openReplies)) {
      return 0;
    }
  }
  return availableCount;
}

export function selectContacts(request: BatchRequest, _plan: BatchPlan): ContactSelection {
  // A campaign more than a day past its due date hands out no new initial contacts (Spoke
  // meant this; its code crashes instead).
  const dueBy = request.campaign.dueBy;
  const pastDue = dueBy !== undefined && request.now.seconds > dueBy.seconds + PAST_DUE_GRACE_SECONDS;
  const withinTextingHours: ContactFilter = {
    status: { tag: "one-of", val: ["needs-message"] },
    assignment: "unassigned",
    optedOut: false,
    timezone: "valid-now",
  };
  return {
    batchQuery: { filter: withinTextingHours, limit: pastDue ? 0 : undefined },
    hasCurrentQuery: undefined,
  };
}
