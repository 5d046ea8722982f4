//! A checkpoint's content: the [`Image`] of an agent at a step boundary, and its encoding as a
//! full body or as a delta over the previous image (format version 1).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::checkpoint::delta::{self, Patch};
use crate::checkpoint::task::TaskState;
use crate::pager::manifest::{Manifest, PageRef};

/// The checkpoint format this kernel writes (and the only one it reads).
pub(crate) const FORMAT_VERSION: i32 = 1;

/// What the agent used so far (LLM calls through its context), carried across restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentUsage {
    /// Completed LLM calls.
    pub calls: u64,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// Cost in US dollars.
    pub cost_usd: f64,
}

impl AgentUsage {
    pub(crate) fn add(&mut self, input: u64, output: u64, cost_usd: f64) {
        self.calls = self.calls.saturating_add(1);
        self.input_tokens = self.input_tokens.saturating_add(input);
        self.output_tokens = self.output_tokens.saturating_add(output);
        if cost_usd.is_finite() && cost_usd > 0.0 {
            self.cost_usd += cost_usd;
        }
    }
}

/// An agent at a step boundary, materialised (the last checkpoint of a chain, applied).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Image {
    pub(crate) step: u64,
    pub(crate) state: Option<Value>,
    pub(crate) pages: Manifest,
    pub(crate) usage: AgentUsage,
    pub(crate) task: TaskState,
}

/// The stored body of one checkpoint.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Body {
    pub(crate) v: i32,
    pub(crate) step: u64,
    pub(crate) usage: AgentUsage,
    pub(crate) task: TaskState,
    /// The mailbox position: the durable messages this checkpoint acknowledges (their rows
    /// are marked in the same transaction).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) acked: Vec<i64>,
    #[serde(flatten)]
    pub(crate) content: Content,
}

/// Full content, or the change from the parent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Content {
    Full {
        state: Option<Value>,
        pages: Vec<PageRef>,
    },
    Delta {
        state: Patch,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        add: Vec<PageRef>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        del: Vec<String>,
    },
}

impl Content {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Content::Full { .. } => "full",
            Content::Delta { .. } => "delta",
        }
    }

    /// Every page hash this body names.
    pub(crate) fn hashes(&self) -> impl Iterator<Item = &str> {
        let pages = match self {
            Content::Full { pages, .. } => pages,
            Content::Delta { add, .. } => add,
        };
        pages.iter().map(|p| p.hash.as_str())
    }
}

impl Image {
    /// The body that stores `self`: whole, or as the change from `prev`.
    pub(crate) fn encode(&self, prev: Option<&Image>) -> Body {
        let content = match prev {
            None => Content::Full {
                state: self.state.clone(),
                pages: self.pages.values().cloned().collect(),
            },
            Some(prev) => {
                let old = prev.state.clone().unwrap_or(Value::Null);
                let new = self.state.clone().unwrap_or(Value::Null);
                let add = self
                    .pages
                    .iter()
                    .filter(|(id, p)| prev.pages.get(*id) != Some(*p))
                    .map(|(_, p)| p.clone())
                    .collect();
                let del = prev
                    .pages
                    .keys()
                    .filter(|id| !self.pages.contains_key(*id))
                    .cloned()
                    .collect();
                Content::Delta {
                    state: delta::diff(&old, &new),
                    add,
                    del,
                }
            }
        };
        Body {
            v: FORMAT_VERSION,
            step: self.step,
            usage: self.usage,
            task: self.task.clone(),
            acked: Vec::new(),
            content,
        }
    }

    /// The image a body describes: a full body alone, a delta over `base`.
    pub(crate) fn decode(body: Body, base: Option<Image>) -> Result<Image, String> {
        if body.v != FORMAT_VERSION {
            return Err(format!(
                "format version {} (this kernel reads {FORMAT_VERSION})",
                body.v
            ));
        }
        let (state, pages) = match (body.content, base) {
            (Content::Full { state, pages }, _) => (
                state,
                pages.into_iter().map(|p| (p.id.clone(), p)).collect(),
            ),
            (Content::Delta { state, add, del }, Some(base)) => {
                let old = base.state.unwrap_or(Value::Null);
                let new = delta::apply(old, &state)?;
                let mut pages = base.pages;
                for id in &del {
                    pages.remove(id);
                }
                for p in add {
                    pages.insert(p.id.clone(), p);
                }
                ((!new.is_null()).then_some(new), pages)
            }
            (Content::Delta { .. }, None) => return Err("a delta without its parent".into()),
        };
        Ok(Image {
            step: body.step,
            state,
            pages,
            usage: body.usage,
            task: body.task,
        })
    }
}

/// Hex SHA-256 of a body.
pub(crate) fn checksum(bytes: &[u8]) -> String {
    crate::digest::sha256_hex(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(id: &str) -> PageRef {
        PageRef {
            id: id.into(),
            hash: format!("h{id}"),
            seq: 0,
            tokens: 3,
            importance: 0.5,
            pinned: false,
            kind: "message".into(),
            meta: json!({}),
        }
    }

    #[test]
    fn a_delta_chain_rebuilds_the_image() {
        let mut a = Image {
            step: 1,
            state: Some(json!({"n": 1, "log": ["x"]})),
            ..Image::default()
        };
        a.pages.insert("p1".into(), page("p1"));
        let mut b = a.clone();
        b.step = 2;
        b.state = Some(json!({"n": 2, "log": ["x", "y"]}));
        b.pages.insert("p2".into(), page("p2"));
        b.pages.remove("p1");
        let full = a.encode(None);
        let delta = b.encode(Some(&a));
        assert_eq!(delta.content.kind(), "delta");
        let bytes = serde_json::to_vec(&delta).unwrap();
        let back: Body = serde_json::from_slice(&bytes).unwrap();
        let a2 = Image::decode(full, None).unwrap();
        assert_eq!(a2, a);
        assert_eq!(Image::decode(back, Some(a2)).unwrap(), b);
    }
}
