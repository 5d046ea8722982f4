//! What every handler of one [`super::Api`] shares.

use std::sync::Arc;

use super::ApiConfig;
use super::auth::Tokens;
use super::events::EventRing;
use crate::kernel::Kernel;

/// The kernel, the configuration, the decoded tokens and the event ring.
#[derive(Debug)]
pub(crate) struct ApiState {
    pub(crate) kernel: Kernel,
    pub(crate) config: ApiConfig,
    pub(crate) tokens: Tokens,
    pub(crate) events: Arc<EventRing>,
}
