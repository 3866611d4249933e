//! The HTTP handlers, one module per area: each extracts what the request carries (session,
//! client, body, headers), calls its flow (`crate::flow`) and answers. At most 40 lines each
//! (`tests/house.rs`). `crate::http` builds the router and the OpenAPI document from their
//! `#[utoipa::path]` descriptions.
//!
//! Being built up (issue 17): the feed's three keep their handlers beside its stream (`crate::feed`).

pub(crate) mod accounts;
pub(crate) mod charges;
pub(crate) mod devices;
pub(crate) mod enrolment;
pub(crate) mod funding;
pub(crate) mod operator;
pub(crate) mod payouts;
pub(crate) mod recovery;
pub(crate) mod review;
pub(crate) mod topups;
pub(crate) mod wallet;
pub(crate) mod wind_down;
