//! Exact `cl100k_base` token counts (tiktoken-rs), for the few places that need them: a call
//! near its backend's TPM limit, and slice requests under a token quota. The tables (≈ 10 MB)
//! are built once, on a thread of their own, when the first count is asked for — an idle kernel
//! never holds them — so that no caller, and no arbiter, ever waits for them: until they are
//! ready, [`try_count`] answers `None` and the caller keeps its byte bound.

use std::sync::atomic::{AtomicBool, Ordering};

/// Set once the tiktoken tables are built.
static READY: AtomicBool = AtomicBool::new(false);

/// Builds the tokenizer's tables (≈ 0.1 s in a release build, seconds in a debug one) on a
/// thread of its own, once.
pub(crate) fn warm_up_in_background() {
    static STARTED: AtomicBool = AtomicBool::new(false);
    if STARTED.swap(true, Ordering::AcqRel) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("tokenizer-warm-up".into())
        .spawn(|| {
            let _ = tiktoken_rs::cl100k_base_singleton();
            READY.store(true, Ordering::Release);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "tokenizer warm-up thread did not start; token estimates stay byte bounds");
    }
}

/// True once the tables are built (see [`warm_up_in_background`]).
pub(crate) fn ready() -> bool {
    READY.load(Ordering::Acquire)
}

/// [`count`] once the tables are built; `None` before (and the first such call starts
/// building them in the background).
pub(crate) fn try_count(text: &str) -> Option<u64> {
    if !ready() {
        warm_up_in_background();
        return None;
    }
    Some(count(text))
}

/// Tokens of `text` in `cl100k_base` (`encode_ordinary`). Builds the tables on first use (use
/// [`try_count`] where that must not block).
pub(crate) fn count(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let n = tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len();
    u64::try_from(n).unwrap_or(u64::MAX)
}
