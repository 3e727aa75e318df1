/// <reference path="./spoke-batches-types.d.ts" />
declare module 'spoke:batches/host@0.1.0' {
  /**
   * Counts the campaign's contacts that match `filter`. With `cap = some(n)` the host stops at
   * `n` and returns at most `n`: "are there at least n?" then costs O(n), not O(campaign).
   */
  export function countContacts(filter: ContactFilter, cap: number | undefined): number;
  /**
   * Whether at least one of the campaign's contacts matches `filter`.
   */
  export function anyContact(filter: ContactFilter): boolean;
  /**
   * Whether the assignment's user (not the caller) has `role` or a higher one in the
   * campaign's organization.
   */
  export function assignmentUserHasRole(role: Role): boolean;
  /**
   * Writes a line to the host's log, tagged with the strategy and the request. Lines beyond
   * the host's per-call log budget are dropped.
   */
  export function log(level: LogLevel, message: string): void;
  export type ContactFilter = import('spoke:batches/types@0.1.0').ContactFilter;
  export type Role = import('spoke:batches/types@0.1.0').Role;
  export type LogLevel = import('spoke:batches/types@0.1.0').LogLevel;
}
