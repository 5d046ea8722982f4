//! The scheduler: grants time-slice tokens for LLM work (the LLM is the CPU).

pub mod token;

pub use token::{SliceToken, TokenId};
