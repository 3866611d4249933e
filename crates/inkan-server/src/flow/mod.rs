//! The flows: the control flow of each operation, between the HTTP handlers above and the store
//! below. A flow reads the facts (`store`), asks `inkan-core` what they mean, and performs the
//! writes its answer calls for, in one transaction where money moves. It knows nothing of HTTP
//! extractors: a handler extracts, calls its flow and responds.
//!
//! Being built up operation by operation (issue 17): the money path (charges), money in (top-ups)
//! and out (pay-outs), the cards, a new wallet, a device's join and the wallet's own state are
//! here, with sign-in and step-ups, the recovery codes and the review queue. The operator's kill
//! switches are `crate::operator`'s (public, for the binary's `admin` commands); the feed keeps its
//! stream beside its handlers.

pub(crate) mod accounts;
pub(crate) mod cards;
pub(crate) mod charges;
pub(crate) mod codes;
pub(crate) mod enrolment;
pub(crate) mod joins;
#[cfg(feature = "testing")]
pub mod payouts;
#[cfg(not(feature = "testing"))]
pub(crate) mod payouts;
pub(crate) mod recovery;
pub(crate) mod review;
pub(crate) mod tally;
#[cfg(feature = "testing")]
pub mod topups;
#[cfg(not(feature = "testing"))]
pub(crate) mod topups;
pub(crate) mod wallet;
pub(crate) mod wind_down;
