//! Feature unification only (see its Cargo.toml): no code, never referred to.
