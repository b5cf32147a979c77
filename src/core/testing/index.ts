/** Test helpers for applications built on tworooms: given / when / then for deciders and projections. */
export { type DeciderThen, deciderSpec } from './decider-spec.js';
export { assertEqual, deepEqual, SpecFailure } from './deep-equal.js';
export { projectionSpec, toRecorded } from './projection-spec.js';
