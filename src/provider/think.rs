//! Splits `<think>…</think>` blocks (DeepSeek-R1 on Ollama/vLLM, Qwen, MiniMax) out of the
//! visible text, incrementally: tags may be cut across stream chunks.

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// Stateful splitter: feed text fragments, get `(visible, reasoning)` increments.
#[derive(Debug, Default)]
pub(crate) struct ThinkSplitter {
    inside: bool,
    pending: String,
}

impl ThinkSplitter {
    /// Feeds a fragment; returns the visible and reasoning text it completed.
    pub(crate) fn push(&mut self, fragment: &str) -> (String, String) {
        self.pending.push_str(fragment);
        let (mut visible, mut reasoning) = (String::new(), String::new());
        loop {
            let tag = if self.inside { CLOSE } else { OPEN };
            if let Some(pos) = self.pending.find(tag) {
                self.emit(&self.pending[..pos], &mut visible, &mut reasoning);
                self.pending.drain(..pos + tag.len());
                self.inside = !self.inside;
                continue;
            }
            // Keep back a suffix that could be the start of the tag.
            let keep = (1..tag.len())
                .rev()
                .find(|n| self.pending.ends_with(&tag[..*n]))
                .unwrap_or(0);
            let cut = self.pending.len() - keep;
            self.emit(&self.pending[..cut], &mut visible, &mut reasoning);
            self.pending.drain(..cut);
            break;
        }
        (visible, reasoning)
    }

    /// Flushes what is held back at the end of the text.
    pub(crate) fn finish(&mut self) -> (String, String) {
        let rest = std::mem::take(&mut self.pending);
        let (mut v, mut r) = (String::new(), String::new());
        self.emit(&rest, &mut v, &mut r);
        (v, r)
    }

    fn emit(&self, s: &str, visible: &mut String, reasoning: &mut String) {
        // (`&self` and `&self.pending[..]` are both shared borrows.)
        if self.inside {
            reasoning.push_str(s);
        } else {
            visible.push_str(s);
        }
    }
}

/// Splits a complete text at once into `(visible, reasoning)`; the visible text loses its
/// leading whitespace. Without a think block the text is kept as it is (no copy).
pub(crate) fn split_think(text: String) -> (String, String) {
    if !text.contains(OPEN) {
        let start = text.len() - text.trim_start().len();
        let mut text = text;
        text.drain(..start);
        return (text, String::new());
    }
    let mut s = ThinkSplitter::default();
    let (mut v, mut r) = s.push(&text);
    let (v2, r2) = s.finish();
    v.push_str(&v2);
    r.push_str(&r2);
    (v.trim_start().to_owned(), r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_cut_across_fragments() {
        let mut s = ThinkSplitter::default();
        let mut v = String::new();
        let mut r = String::new();
        for f in ["<thi", "nk>plan ", "it</th", "ink>answer", " <", "b>"] {
            let (a, b) = s.push(f);
            v.push_str(&a);
            r.push_str(&b);
        }
        let (a, b) = s.finish();
        v.push_str(&a);
        r.push_str(&b);
        assert_eq!(r, "plan it");
        assert_eq!(v, "answer <b>");
        assert_eq!(
            split_think("<think>x</think>\ny".into()),
            ("y".into(), "x".into())
        );
    }
}
