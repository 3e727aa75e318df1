"use strict";
// What Spoke does around a batch strategy, on knex and PostgreSQL, written from the facts of
// Spoke's findNewCampaignContact and hasUnassignedContactsForTexter (shared/SPOKE-BRIDGE-FACTS.md)
// so the bridge can be driven exactly as Spoke drives it, without Spoke:
//
// - strategies load like getDynamicAssignmentBatchPolicies: `require(<folder>/<name>/index.js)`
//   for each name of DYNAMICASSIGNMENT_BATCHES (the campaign's whole list, else the
//   organization's or the environment's first entry, else Spoke's default's first entry);
// - a batch request: max_contacts 0 check, ONE shared arguments object for both strategy
//   calls, Spoke's numberContacts formula set on that object, the bare batch query and Spoke's
//   hasCurrentQuery, the strategy's truthy replacements, the has-current check unless bulk
//   send, and the one-statement claim `UPDATE … WHERE id IN (batch query FOR UPDATE SKIP
//   LOCKED)`, whose SQL error is logged and answers not found;
// - has-unassigned: the first strategy with hasAny, and Spoke's min formula.
//
// Not reproduced: Spoke's access check (the caller is taken to be the assignment's texter),
// telemetry and the assigned-count cache.

const path = require("path");

const DEFAULT_BATCHES = "finished-replies-tz,vetted-texters,finished-replies";

/** Spoke's features of an organization or campaign: a JSON string or an object. */
function featuresOf(row) {
  if (!row || !row.features) {
    return {};
  }
  if (typeof row.features === "string") {
    try {
      return JSON.parse(row.features);
    } catch (error) {
      return {};
    }
  }
  return row.features;
}

/** Spoke's getConfig(key, row): the row's features, then the environment; "" is unset. */
function configOf(key, row, environment, { onlyLocal = false } = {}) {
  const features = featuresOf(row);
  if (Object.prototype.hasOwnProperty.call(features, key)) {
    return features[key] === "" ? undefined : features[key];
  }
  if (onlyLocal) {
    return undefined;
  }
  const value = environment[key];
  return value === "" ? undefined : value;
}

class SpokeDriver {
  /**
   * @param {object} options
   * @param {import("knex").Knex} options.knex Spoke's database (r.knex)
   * @param {string} options.extensionDir Spoke's extensions/dynamicassignment-batches/ folder
   * @param {object} [options.environment] Spoke's process environment (getConfig's fallback)
   * @param {(line: string) => void} [options.log] Spoke's log (log.error of a failed claim)
   * @param {object} [options.builtIn] strategy modules by name, found before the folder (the
   *   reference strategies of spoke-policies.js)
   */
  constructor({ knex, extensionDir, environment = {}, log = (line) => console.error(line), builtIn = {} }) {
    this.knex = knex;
    this.extensionDir = extensionDir;
    this.builtIn = builtIn;
    this.environment = environment;
    this.log = log;
    this.r = {
      knex,
      getCount: async (query) => Number((await query.count("* as count").first()).count)
    };
  }

  /** The enabled strategy modules, default first (getDynamicAssignmentBatchPolicies). */
  policies(organization, campaign) {
    const key = "DYNAMICASSIGNMENT_BATCHES";
    const campaignEnabled = configOf(key, campaign, this.environment, { onlyLocal: true });
    const configured = campaignEnabled || configOf(key, organization, this.environment) || DEFAULT_BATCHES;
    const names = String(configured).split(",");
    if (!campaignEnabled) {
      names.splice(1);
    }
    const loaded = [];
    for (const name of names) {
      if (Object.prototype.hasOwnProperty.call(this.builtIn, name)) {
        loaded.push(this.builtIn[name]);
        continue;
      }
      try {
        // eslint-disable-next-line global-require, import/no-dynamic-require
        loaded.push(require(path.join(this.extensionDir, name, "index.js")));
      } catch (error) {
        this.log(`${key} failed to load dynamicassignment-batches handler ${name} -- ${error}`);
      }
    }
    return loaded;
  }

  async load(assignmentId) {
    const assignment = await this.knex("assignment").where("id", assignmentId).first();
    if (!assignment) {
      return {};
    }
    const campaign = await this.knex("campaign").where("id", assignment.campaign_id).first();
    const organization = await this.knex("organization").where("id", campaign.organization_id).first();
    return { assignment, campaign, organization };
  }

  /** Whether the campaign lets a texter ask for more while holding a batch (texterUIConfig). */
  bulkSendAllowed(organization, campaign) {
    const options =
      configOf("TEXTER_UI_SETTINGS", campaign, this.environment, { onlyLocal: true }) ||
      configOf("TEXTER_UI_SETTINGS", organization, this.environment) ||
      "";
    let settings = {};
    try {
      settings = JSON.parse(options || "{}");
    } catch (error) {
      settings = {};
    }
    const sideboxes = String(configOf("TEXTER_SIDEBOXES", organization, this.environment) || "").split(",");
    return sideboxes.includes("per-campaign-bulk-send") ? settings["per-campaign-bulk-send"] : true;
  }

  /**
   * Spoke's findNewCampaignContact for `user` (default: the assignment's texter). Answers
   * Spoke's `{found, assignment}`, plus for tests `claimed` (the UPDATE's row count) and `plan`
   * (the numberContacts and contactsCount Spoke set on the arguments, once computed).
   */
  async findNewCampaignContact({ assignmentId, numberContacts, batchType, user }) {
    const notFound = { found: false, claimed: 0, assignment: { id: assignmentId, hasUnassignedContactsForTexter: 0 } };
    const { assignment, campaign, organization } = await this.load(assignmentId);
    if (!assignment) {
      return notFound;
    }
    if (assignment.max_contacts === 0) {
      return notFound;
    }
    const args = this.strategyArgs(organization, campaign, assignment, user);
    const policies = this.policies(organization, campaign);
    const policy = batchType ? policies.find((candidate) => candidate.name === batchType) : policies[0];
    if (!policies.length || !policy || !policy.requestNewBatchCount) {
      return notFound;
    }
    const availableCount = await policy.requestNewBatchCount(args);

    const contactsCount = await this.r.getCount(this.knex("campaign_contact").where("assignment_id", assignmentId));
    let planned = Math.min(
      numberContacts || campaign.batch_size || 1,
      campaign.batch_size === null ? availableCount : campaign.batch_size,
      availableCount
    );
    if (assignment.max_contacts && contactsCount + planned > assignment.max_contacts) {
      planned = assignment.max_contacts - contactsCount;
    }
    args.numberContacts = planned;
    args.contactsCount = contactsCount;
    notFound.plan = { numberContacts: planned, contactsCount };

    let batchQuery = this.knex("campaign_contact").select("id").limit(planned).forUpdate();
    let hasCurrentQuery = this.knex("campaign_contact").where({
      assignment_id: assignmentId,
      message_status: "needsMessage",
      is_opted_out: false,
      campaign_id: campaign.id
    });
    if (policy.selectContacts) {
      const replacement = await policy.selectContacts(batchQuery, hasCurrentQuery, args);
      if (replacement) {
        batchQuery = replacement.batchQuery ? replacement.batchQuery : batchQuery;
        hasCurrentQuery = replacement.hasCurrentQuery ? replacement.hasCurrentQuery : hasCurrentQuery;
      }
    } else {
      batchQuery = batchQuery
        .where({ message_status: "needsMessage", is_opted_out: false, campaign_id: campaign.id })
        .whereNull("assignment_id");
    }

    if (!this.bulkSendAllowed(organization, campaign)) {
      const hasCurrent = await this.r.getCount(hasCurrentQuery);
      if (hasCurrent >= planned) {
        return notFound;
      }
    }
    if (batchQuery.skipLocked && /pg|mysql/.test(this.knex.client.config.client)) {
      batchQuery.skipLocked();
    }
    const updatedCount = await this.knex("campaign_contact")
      .whereIn("id", batchQuery)
      .update({ assignment_id: assignmentId, updated_at: new Date() })
      .catch((error) => {
        this.log(String(error && error.message ? error.message : error));
        return undefined;
      });
    return updatedCount > 0 ? { ...notFound, found: true, claimed: updatedCount } : notFound;
  }

  /** Spoke's Assignment.hasUnassignedContactsForTexter. */
  async hasUnassignedContactsForTexter({ assignmentId, user }) {
    const { assignment, campaign, organization } = await this.load(assignmentId);
    if (!assignment || campaign.is_archived) {
      return 0;
    }
    const policies = this.policies(organization, campaign);
    if (!policies.length || !policies[0].requestNewBatchCount) {
      return 0;
    }
    const availableCount = await policies[0].requestNewBatchCount({
      ...this.strategyArgs(organization, campaign, assignment, user),
      hasAny: true
    });
    return Math.min(assignment.max_contacts || campaign.batch_size, campaign.batch_size, availableCount);
  }

  /** The one arguments object Spoke hands a strategy (both call sites build the same). */
  strategyArgs(organization, campaign, assignment, user) {
    return {
      r: this.r,
      loaders: {},
      cacheableData: {},
      organization,
      campaign,
      assignment,
      texter: user || { id: assignment.user_id }
    };
  }
}

module.exports = { SpokeDriver, configOf, featuresOf };
