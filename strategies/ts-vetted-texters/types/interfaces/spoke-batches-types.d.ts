declare module 'spoke:batches/types@0.1.0' {
  /**
   * A point in time, in UTC.
   */
  export interface Timestamp {
    /**
     * Whole seconds since 1970-01-01T00:00:00Z (negative before it).
     */
    seconds: bigint,
    /**
     * Nanoseconds within the second, 0 to 999,999,999.
     */
    nanoseconds: number,
  }
  /**
   * A role a user may hold in an organization, from least to most privileged.
   * 
   * "Has role R" means the user's highest role in the organization is R or above, so a
   * `supervolunteer` counts as a `vetted-texter`.
   * # Variants
   * 
   * ## `"suspended"`
   * 
   * The user may not text in the organization at all.
   * ## `"texter"`
   * 
   * A texter.
   * ## `"vetted-texter"`
   * 
   * A texter trusted with more than one batch and with taking conversations.
   * ## `"supervolunteer"`
   * 
   * A volunteer who helps run campaigns.
   * ## `"admin"`
   * 
   * An organization administrator.
   * ## `"owner"`
   * 
   * An organization owner.
   */
  export type Role = 'suspended' | 'texter' | 'vetted-texter' | 'supervolunteer' | 'admin' | 'owner';
  /**
   * The organization that owns the campaign (Spoke's `organization` row).
   */
  export interface Organization {
    /**
     * `organization.id`.
     */
    id: bigint,
    /**
     * `organization.name`.
     */
    name: string,
    /**
     * `organization.features`: the raw JSON object text, `{}` when empty.
     */
    features: string,
    /**
     * `organization.texting_hours_enforced`.
     */
    textingHoursEnforced: boolean,
    /**
     * `organization.texting_hours_start`, an hour of the day (0-23).
     */
    textingHoursStart: number,
    /**
     * `organization.texting_hours_end`, an hour of the day (0-24).
     */
    textingHoursEnd: number,
  }
  /**
   * The campaign the texter asks contacts of (Spoke's `campaign` row).
   */
  export interface Campaign {
    /**
     * `campaign.id`.
     */
    id: bigint,
    /**
     * `campaign.organization_id`.
     */
    organizationId: bigint,
    /**
     * `campaign.title`.
     */
    title: string,
    /**
     * `campaign.is_started`.
     */
    isStarted: boolean,
    /**
     * `campaign.is_archived`.
     */
    isArchived: boolean,
    /**
     * `campaign.use_dynamic_assignment`.
     */
    useDynamicAssignment: boolean,
    /**
     * `campaign.due_by`, when set.
     */
    dueBy?: Timestamp,
    /**
     * `campaign.batch_size`; `none` is read as "dynamic assignment off" by every shipped
     * strategy except vetted-takeconversations.
     */
    batchSize?: number,
    /**
     * `campaign.features`: the raw JSON object text, when set. Strategies with custom
     * settings read them from here.
     */
    features?: string,
    /**
     * `campaign.response_window`, in hours, when set.
     */
    responseWindow?: number,
    /**
     * `campaign.override_organization_texting_hours`.
     */
    overrideOrganizationTextingHours: boolean,
    /**
     * `campaign.texting_hours_enforced`.
     */
    textingHoursEnforced: boolean,
    /**
     * `campaign.texting_hours_start`.
     */
    textingHoursStart: number,
    /**
     * `campaign.texting_hours_end`.
     */
    textingHoursEnd: number,
    /**
     * `campaign.timezone`, an IANA name such as `US/Eastern`.
     */
    timezone: string,
  }
  /**
   * The texter's assignment in the campaign (Spoke's `assignment` row).
   */
  export interface Assignment {
    /**
     * `assignment.id`.
     */
    id: bigint,
    /**
     * `assignment.user_id`: the texter who owns the assignment.
     */
    userId: bigint,
    /**
     * `assignment.campaign_id`.
     */
    campaignId: bigint,
    /**
     * `assignment.max_contacts`; `none` means no cap, `some(0)` means "no contacts at all".
     */
    maxContacts?: number,
  }
  /**
   * The user who made the request (Spoke's `user` row). Usually the assignment's owner; an
   * administrator may act on a texter's behalf.
   */
  export interface Texter {
    /**
     * `user.id`.
     */
    id: bigint,
    /**
     * `user.first_name`.
     */
    firstName: string,
    /**
     * `user.last_name`.
     */
    lastName: string,
  }
  /**
   * Everything a strategy is told about one request.
   */
  export interface BatchRequest {
    /**
     * The campaign's organization.
     */
    organization: Organization,
    /**
     * The campaign.
     */
    campaign: Campaign,
    /**
     * The assignment asking for contacts.
     */
    assignment: Assignment,
    /**
     * Who asked.
     */
    texter: Texter,
    /**
     * True when the host only wants to know whether at least one contact could be handed
     * out (to show or hide the "request texts" button); the strategy may then answer 1
     * instead of a full count.
     */
    hasAny: boolean,
    /**
     * How many contacts the texter asked for, when they said (Spoke's `numberContacts`);
     * `none` means "a full batch".
     */
    numberContacts?: number,
    /**
     * A count above this changes nothing in what the host does with the answer (it is
     * the most this request can hand out, or show in `has-any` mode), so pass it as the
     * `cap` of `count-contacts` to keep the question O(cap) instead of O(campaign).
     */
    countCap: number,
    /**
     * The current time. Strategies get the clock only from here.
     */
    now: Timestamp,
  }
  /**
   * What the host decided after `request-new-batch-count`, given to `select-contacts`.
   */
  export interface BatchPlan {
    /**
     * How many contacts the host will assign at most: the smallest of the texter's request,
     * the campaign's batch size, the strategy's count and what `max-contacts` leaves.
     */
    numberContacts: number,
    /**
     * How many contacts the assignment already holds.
     */
    contactsCount: number,
  }
  /**
   * `campaign_contact.message_status`.
   * # Variants
   * 
   * ## `"needs-message"`
   * 
   * `needsMessage`: the initial text has not been sent.
   * ## `"needs-response"`
   * 
   * `needsResponse`: the contact replied and waits for the texter.
   * ## `"convo"`
   * 
   * `convo`: an ongoing conversation.
   * ## `"messaged"`
   * 
   * `messaged`: the initial text was sent, no reply yet.
   * ## `"closed"`
   * 
   * `closed`: the conversation is over.
   * ## `"updating"`
   * 
   * `UPDATING`: being changed by another operation.
   */
  export type MessageStatus = 'needs-message' | 'needs-response' | 'convo' | 'messaged' | 'closed' | 'updating';
  /**
   * A condition on `campaign_contact.message_status`.
   */
  export type StatusFilter = StatusFilterAny | StatusFilterOneOf | StatusFilterNoneOf;
  /**
   * Any status.
   */
  export interface StatusFilterAny {
    tag: 'any',
  }
  /**
   * The status is one of these (`IN (...)`); an empty list matches nothing.
   */
  export interface StatusFilterOneOf {
    tag: 'one-of',
    val: Array<MessageStatus>,
  }
  /**
   * The status is none of these (`NOT IN (...)`); an empty list matches everything.
   */
  export interface StatusFilterNoneOf {
    tag: 'none-of',
    val: Array<MessageStatus>,
  }
  /**
   * A condition on `campaign_contact.assignment_id`.
   * # Variants
   * 
   * ## `"any"`
   * 
   * Assigned to anyone or to no one.
   * ## `"unassigned"`
   * 
   * Not assigned (`assignment_id IS NULL`).
   * ## `"this-assignment"`
   * 
   * Assigned to the assignment of the current request.
   */
  export type AssignmentFilter = 'any' | 'unassigned' | 'this-assignment';
  /**
   * A condition on the contact's timezone (`campaign_contact.timezone_offset`) at the
   * request's `now`, following the texting hours of the campaign or its organization.
   * # Variants
   * 
   * ## `"any"`
   * 
   * Any timezone.
   * ## `"valid-now"`
   * 
   * It is within texting hours for the contact now.
   * ## `"invalid-now"`
   * 
   * It is outside texting hours for the contact now.
   */
  export type TimezoneFilter = 'any' | 'valid-now' | 'invalid-now';
  /**
   * A typed filter over the current campaign's `campaign_contact` rows. All conditions must
   * hold. The host adds `campaign_id = <current campaign>` to every filter; a strategy cannot
   * name another campaign.
   */
  export interface ContactFilter {
    /**
     * Condition on `message_status`.
     */
    status: StatusFilter,
    /**
     * Condition on `assignment_id`.
     */
    assignment: AssignmentFilter,
    /**
     * `some(b)`: `is_opted_out = b`; `none`: either.
     */
    optedOut?: boolean,
    /**
     * Condition on the timezone.
     */
    timezone: TimezoneFilter,
  }
  /**
   * Which contacts to assign: a filter plus an optional limit.
   */
  export interface ContactQuery {
    /**
     * The contacts that may be assigned.
     */
    filter: ContactFilter,
    /**
     * At most this many; `none` means the plan's `number-contacts`. A limit above the plan's
     * `number-contacts` is an error.
     */
    limit?: number,
  }
  /**
   * The answer of `select-contacts`: replacements for the host's default queries.
   */
  export interface ContactSelection {
    /**
     * Replaces the default batch query (unassigned, `needs-message`, not opted out) when
     * set.
     */
    batchQuery?: ContactQuery,
    /**
     * Replaces the default "has current" filter (this assignment's contacts that are
     * `needs-message` and not opted out) when set. When the campaign does not allow bulk
     * sending, a texter holding at least `number-contacts` such contacts gets nothing new.
     */
    hasCurrentQuery?: ContactFilter,
  }
  /**
   * How serious a log line is.
   * # Variants
   * 
   * ## `"debug"`
   * 
   * Detail for the strategy's author.
   * ## `"info"`
   * 
   * Normal operation.
   * ## `"warn"`
   * 
   * Something looks wrong but the request goes on.
   * ## `"error"`
   * 
   * Something failed.
   */
  export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
}
