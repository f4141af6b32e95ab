//! The steps of the migration (DESIGN's workflow), one module per Lambda, named as the
//! Lambda. Each takes its request, the ports it acts through and the [`crate::Settings`];
//! none imports another step.

pub mod carry_edits;
pub mod check_propagation;
pub mod create_zone;
pub mod cutover;
pub mod delegate_subdomain;
pub mod finalize;
pub mod lower_ns_ttl;
pub mod preflight;
pub mod rollback;
pub mod swap_nameservers;
pub mod sync_records;
pub mod verify_zones;
