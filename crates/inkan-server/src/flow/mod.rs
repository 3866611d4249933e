//! The flows: the control flow of each operation, between the HTTP handlers above and the store
//! below. A flow reads the facts (`store`), asks `inkan-core` what they mean, and performs the
//! writes its answer calls for, in one transaction where money moves. It knows nothing of HTTP
//! extractors: a handler extracts, calls its flow and responds.
//!
//! Being built up operation by operation (issue 17): the money path (charges) is here; the other
//! handlers still carry their flows.

pub(crate) mod charges;
