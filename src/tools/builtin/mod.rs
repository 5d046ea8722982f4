//! The built-in tools.

mod code;
mod fs;
mod memory;
mod net;

use std::sync::Arc;

use crate::tools::registry::ToolRegistry;

/// A registry with the built-in tools.
pub(crate) fn registry() -> ToolRegistry {
    let r = ToolRegistry::default();
    r.register(Arc::new(fs::Read));
    r.register(Arc::new(fs::Write));
    r.register(Arc::new(fs::List));
    r.register(Arc::new(code::Python));
    r.register(Arc::new(code::Shell));
    r.register(Arc::new(memory::Remember));
    r.register(Arc::new(memory::Recall));
    r.register(Arc::new(net::Fetch));
    r
}
