//! The container engine (being written).
