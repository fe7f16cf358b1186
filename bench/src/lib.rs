//! The load generator (to be written).
