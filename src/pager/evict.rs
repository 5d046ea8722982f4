//! Replacement and faults on one table: which pages leave, which come back, and the storage
//! writes that make each move durable before memory reflects it.

use std::sync::Arc;

use crate::pager::error::PagerError;
use crate::pager::policy::ReplacementPolicy;
use crate::pager::residency::ResidencyWriter;
use crate::pager::split::hash;
use crate::pager::table::PageTable;
use crate::storage::Storage;
use crate::storage::pages::{Residency, load_blobs, set_residency};

/// Records residency changes: queued behind when there is a writer, in place otherwise.
async fn persist(
    storage: &Storage,
    writer: Option<&ResidencyWriter>,
    changes: Vec<Residency>,
) -> Result<(), PagerError> {
    let changes = match writer {
        Some(w) => match w.write(changes) {
            Ok(()) => return Ok(()),
            Err(back) => back,
        },
        None => changes,
    };
    set_residency(storage, &changes).await?;
    Ok(())
}

/// Evicts unpinned groups (in the policy's order, never those in `protect`) until the
/// resident set is at most `target` tokens; then, if still over the budget, the protected
/// ones too. Returns the pages evicted (seq and content). Over budget with only pinned pages left:
/// `ContextOverflow`, with nothing evicted.
pub(crate) async fn enforce_budget(
    storage: &Storage,
    writer: Option<&ResidencyWriter>,
    table: &mut PageTable,
    policy: &dyn ReplacementPolicy,
    query: Option<&[f32]>,
    target: u64,
    protect: &[u64],
) -> Result<Vec<(u64, Arc<str>)>, PagerError> {
    if table.resident_tokens <= table.budget {
        return Ok(Vec::new());
    }
    if table.pinned_tokens > table.budget {
        return Err(PagerError::ContextOverflow {
            pid: table.owner,
            pinned_tokens: table.pinned_tokens,
            budget: table.budget,
        });
    }
    let target = target.min(table.budget);
    let mut chosen: Vec<u64> = Vec::new();
    let mut left = table.resident_tokens;
    let (candidates, seqs) = table.candidates(query, protect);
    let mut taken = vec![false; candidates.len()];
    for i in policy.eviction_order(&candidates) {
        if left <= target {
            break;
        }
        if i >= candidates.len() || taken[i] {
            continue;
        }
        taken[i] = true;
        left -= candidates[i].tokens;
        chosen.extend_from_slice(&seqs[i]);
    }
    if left > table.budget && !protect.is_empty() {
        let (candidates, seqs) = table.candidates(query, &[]);
        for (c, s) in candidates.iter().zip(&seqs) {
            if left <= table.budget {
                break;
            }
            if s.iter().any(|x| chosen.contains(x)) {
                continue;
            }
            left -= c.tokens;
            chosen.extend_from_slice(s);
        }
    }
    if left > table.budget {
        return Err(PagerError::ContextOverflow {
            pid: table.owner,
            pinned_tokens: table.pinned_tokens,
            budget: table.budget,
        });
    }
    swap_out(storage, writer, table, &chosen).await
}

/// Swaps pages out: storage first, then memory. Returns what left memory.
pub(crate) async fn swap_out(
    storage: &Storage,
    writer: Option<&ResidencyWriter>,
    table: &mut PageTable,
    seqs: &[u64],
) -> Result<Vec<(u64, Arc<str>)>, PagerError> {
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let changes: Vec<Residency> = seqs
        .iter()
        .filter_map(|s| table.entries.get(s))
        .map(|e| Residency {
            id: e.id.to_string(),
            resident: false,
            access_count: e.access_count,
        })
        .collect();
    persist(storage, writer, changes).await?;
    let out: Vec<(u64, Arc<str>)> = seqs
        .iter()
        .filter_map(|s| table.swap_out(*s).map(|c| (*s, c)))
        .collect();
    table.counters.evictions += out.len() as u64;
    metrics::counter!(crate::telemetry::PAGE_EVICTIONS).increment(out.len() as u64);
    table.counters.eviction_batches += 1;
    Ok(out)
}

/// Loads swapped pages back (their content verified against its hash) and marks them
/// resident: storage first, then memory. Counts one fault per page. Returns the contents
/// in the order of `seqs`.
pub(crate) async fn fault_in(
    storage: &Storage,
    writer: Option<&ResidencyWriter>,
    table: &mut PageTable,
    seqs: &[u64],
    make_resident: bool,
) -> Result<Vec<Arc<str>>, PagerError> {
    let wanted: Vec<(u64, String)> = seqs
        .iter()
        .filter_map(|s| table.entries.get(s).map(|e| (*s, e.hash.clone())))
        .collect();
    let hashes: Vec<&str> = wanted.iter().map(|(_, h)| h.as_str()).collect();
    let blobs = load_blobs(storage, &hashes).await?;
    let mut out = Vec::with_capacity(wanted.len());
    for (seq, h) in &wanted {
        let entry = &table.entries[seq];
        let corrupt = |reason: String| PagerError::Corrupt {
            page: entry.id,
            reason,
        };
        let bytes = blobs
            .iter()
            .find(|(bh, _)| bh == h)
            .map(|(_, b)| b.clone())
            .ok_or_else(|| corrupt(format!("its blob {h} is missing")))?;
        let text = String::from_utf8(bytes).map_err(|e| corrupt(e.to_string()))?;
        if hash(&text) != *h {
            return Err(corrupt("its blob does not match its hash".into()));
        }
        out.push(Arc::<str>::from(text));
    }
    if make_resident {
        let changes: Vec<Residency> = wanted
            .iter()
            .map(|(s, _)| {
                let e = &table.entries[s];
                Residency {
                    id: e.id.to_string(),
                    resident: true,
                    access_count: e.access_count.saturating_add(1),
                }
            })
            .collect();
        persist(storage, writer, changes).await?;
        for ((seq, _), content) in wanted.iter().zip(&out) {
            table.swap_in(*seq, content.clone());
        }
    } else {
        for (seq, _) in &wanted {
            table.touch(*seq);
        }
    }
    table.counters.faults += wanted.len() as u64;
    metrics::counter!(crate::telemetry::PAGE_FAULTS).increment(wanted.len() as u64);
    Ok(out)
}
