//! Protection: the security policy every agent's syscalls pass.

pub mod policy;
pub mod sandbox;
