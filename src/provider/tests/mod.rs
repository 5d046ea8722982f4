//! Acceptance tests of the provider layer against HTTP servers started inside the tests that
//! speak the OpenAI and Anthropic wire protocols (JSON and SSE, real statuses and headers).
//! They live inside the crate because they mint slice tokens with the crate-private
//! `SliceToken::new`.

mod gate;
mod hostile;
mod protocols;
mod rate_limits;
mod resilience;
mod scripted;
mod server;
mod streaming;
