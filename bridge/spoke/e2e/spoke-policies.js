"use strict";
// Reference strategies that decide in Spoke itself, written for the driver from the behaviour
// of Spoke's own "all-texters" (shared/SPOKE-SEMANTICS.md): the base checks, then a full
// count(*) of the campaign's available contacts, and no selectContacts (Spoke then adds its
// default filter). The e2e test checks the driver with it against spoke-batches' own
// /batches; the benchmark times the bridge against it.

/** Whether a campaign and assignment pass the checks every Spoke strategy starts with. */
function passesBaseChecks(campaign, assignment) {
  if (!campaign.use_dynamic_assignment || campaign.is_archived) {
    return false;
  }
  return assignment.max_contacts !== 0 && Boolean(campaign.batch_size);
}

/** Spoke's "available": unassigned needsMessage contacts of the campaign, not opted out. */
function availableContacts(r, campaign) {
  return r
    .knex("campaign_contact")
    .where({ campaign_id: campaign.id, message_status: "needsMessage", is_opted_out: false })
    .whereNull("assignment_id");
}

const spokeAllTexters = Object.freeze({
  name: "spoke-all-texters",
  displayName: () => "Everyone can request a new batch (decided in Spoke)",
  async requestNewBatchCount({ r, campaign, assignment, hasAny }) {
    if (!passesBaseChecks(campaign, assignment)) {
      return 0;
    }
    const available = availableContacts(r, campaign);
    if (hasAny) {
      return (await available.select("id").first()) ? 1 : 0;
    }
    return r.getCount(available);
  }
});

module.exports = { spokeAllTexters };
