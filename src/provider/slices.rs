//! Where a call gets the slices its attempts run under.
//!
//! The provider layer never mints or revokes slice tokens. Each attempt asks its
//! [`SliceSource`] for one once the backend's gate admitted it, names that backend (so a
//! fallback takes the fallback backend's `per_provider_slots`), and hands it back when the
//! attempt ends: a slice is held only while a request is at a backend, never while the call
//! waits for rate budget or a retry's backoff (rule 27 of `docs/providers.md`).

use std::future::Future;

use super::error::ProviderError;
use super::model::Usage;
use crate::scheduler::SliceToken;

/// The source of the slices a call's attempts run under: the kernel acquires one from the
/// scheduler per attempt (`AgentContext::llm`); a [`SliceToken`] is a source that lends
/// itself to every attempt.
pub trait SliceSource {
    /// Priority of the call in a backend's queue (0 first).
    fn priority(&self) -> u8;

    /// The backend for a model that no route and no backend's `models` name.
    fn backend_hint(&self) -> Option<&str> {
        None
    }

    /// Whether slice requests need the exact token count (a token quota reads it); without,
    /// [`SliceSource::acquire`] gets the byte bound and no text is tokenized for it.
    fn exact_estimate(&self) -> bool {
        false
    }

    /// Refuses the call at once, before it waits anywhere (an already invalid slice).
    fn check(&self) -> Result<(), ProviderError> {
        Ok(())
    }

    /// A slice for one attempt on `backend`, whose call is estimated at `tokens`.
    fn acquire(
        &self,
        backend: &str,
        tokens: u64,
    ) -> impl Future<Output = Result<SliceToken, ProviderError>>;

    /// Hands the slice of an attempt back, with the model and usage of its answer (`None`
    /// when it failed).
    fn release(&self, slice: SliceToken, used: Option<(&str, &Usage)>);
}

/// One slice lent to every attempt of a call (tests, benchmarks, callers that manage slices
/// themselves): refused with `InvalidToken` once revoked or past its deadline.
impl SliceSource for SliceToken {
    fn priority(&self) -> u8 {
        SliceToken::priority(self)
    }

    fn backend_hint(&self) -> Option<&str> {
        self.provider()
    }

    fn check(&self) -> Result<(), ProviderError> {
        if self.is_valid() {
            Ok(())
        } else {
            Err(ProviderError::InvalidToken)
        }
    }

    async fn acquire(&self, _: &str, _: u64) -> Result<SliceToken, ProviderError> {
        self.check().map(|()| self.clone())
    }

    fn release(&self, _: SliceToken, _: Option<(&str, &Usage)>) {}
}
