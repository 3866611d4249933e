//! The flows: the control flow of each operation, between the HTTP handlers above and the store
//! below. A flow reads the facts (`store`), asks `inkan-core` what they mean, and performs the
//! writes its answer calls for, in one transaction where money moves. It knows nothing of HTTP
//! extractors: a handler extracts, calls its flow and responds.
//!
//! Being built up operation by operation (issue 17): the money path (charges), the cards, a new
//! wallet, a device's join and the wallet's own state are here; the other handlers still carry their flows.

pub(crate) mod cards;
pub(crate) mod charges;
pub(crate) mod enrolment;
pub(crate) mod joins;
pub(crate) mod wallet;
pub(crate) mod wind_down;
