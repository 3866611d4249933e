//! The store: the SQL of each table, as named reads and writes that decide nothing. Flows and
//! handlers above call these; these call nothing above them (no handler, no feed, no flow).
//!
//! Every module of the server but `db` keeps its SQL here (`tests/house.rs` checks the ones that
//! moved).

pub(crate) mod accounts;
pub(crate) mod attempt_counters;
pub(crate) mod cards;
pub(crate) mod ceremonies;
pub(crate) mod charges;
pub(crate) mod devices;
pub(crate) mod events;
pub(crate) mod idempotency;
pub(crate) mod joins;
pub(crate) mod keys;
pub(crate) mod ledger;
pub(crate) mod operator_audit;
pub(crate) mod passkeys;
pub(crate) mod payouts;
pub(crate) mod recovery_codes;
pub(crate) mod sessions;
pub(crate) mod settling;
pub(crate) mod suspensions;
pub(crate) mod topups;
