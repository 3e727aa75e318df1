/// <reference path="./interfaces/spoke-batches-host.d.ts" />
/// <reference path="./interfaces/spoke-batches-types.d.ts" />
declare module 'spoke:batches/strategy@0.1.0' {
  export type BatchRequest = import('spoke:batches/types@0.1.0').BatchRequest;
  export type BatchPlan = import('spoke:batches/types@0.1.0').BatchPlan;
  export type ContactSelection = import('spoke:batches/types@0.1.0').ContactSelection;
  export type * as SpokeBatchesHost010 from 'spoke:batches/host@0.1.0'; // import spoke:batches/host@0.1.0
  export type * as SpokeBatchesTypes010 from 'spoke:batches/types@0.1.0'; // import spoke:batches/types@0.1.0
  /**
  * The strategy's name. It must equal the component's file stem (and the directory name of
  * its source under `strategies/`), and it is the name listed in `DYNAMICASSIGNMENT_BATCHES`.
  */
  export function name(): string;
  /**
  * A title for campaign administrators, such as "Vetted Texters can request a new batch".
  */
  export function displayName(): string;
  /**
  * How many contacts this texter may get now; 0 means "not eligible". The strategy owns ALL
  * restrictions, even the obvious ones (archived campaign, `max-contacts` of 0). An `err`
  * fails the request with the message shown to the operator.
  */
  export function requestNewBatchCount(request: BatchRequest): number;
  /**
  * Optionally replaces the queries that pick the batch and that check what the texter still
  * holds. Return `none` in both fields to keep the host's defaults.
  */
  export function selectContacts(request: BatchRequest, plan: BatchPlan): ContactSelection;
  export type Result<T, E> = { tag: 'ok', val: T } | { tag: 'err', val: E };
}
