//! The JSON bodies of the API, each with its OpenAPI schema.

mod agents;
mod system;

pub use agents::*;
pub use system::*;
