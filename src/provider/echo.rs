//! Continuations on servers that echo the prefill: llama.cpp's `llama-server` answers a
//! request ending with an assistant message by continuing it, and starts its reply with that
//! message's text again (in the first streamed delta, together with the first new token). The
//! echo is cut here, streamed or not, so `partial.continue_with(next)` holds the text once.
//! Servers that do not echo (DeepSeek's `prefix`, Anthropic's prefill, vLLM) are unaffected:
//! only a reply that starts with the whole prefix loses it.

/// Cuts an echoed prefix from the start of a streamed reply's text.
#[derive(Debug)]
pub(crate) struct EchoCut<'a> {
    prefix: &'a str,
    /// Text received so far that may still be the echo.
    held: String,
    /// Whether the start of the reply is decided (cut or kept); then text passes through.
    settled: bool,
}

impl<'a> EchoCut<'a> {
    /// A cut for a request continuing from `prefix` (`None` or empty: nothing to cut).
    pub(crate) fn new(prefix: Option<&'a str>) -> Self {
        let prefix = prefix.unwrap_or_default();
        EchoCut {
            prefix,
            held: String::new(),
            settled: prefix.is_empty(),
        }
    }

    /// The text to pass on for a text delta: `None` while it may still be (part of) the echo.
    pub(crate) fn text(&mut self, text: String) -> Option<String> {
        if self.settled {
            return Some(text);
        }
        self.held.push_str(&text);
        if self.held.len() >= self.prefix.len() {
            self.settled = true;
            let held = std::mem::take(&mut self.held);
            let rest = match held.strip_prefix(self.prefix) {
                Some(rest) => rest.to_owned(),
                None => held,
            };
            return (!rest.is_empty()).then_some(rest);
        }
        if self.prefix.starts_with(self.held.as_str()) {
            return None;
        }
        self.flush()
    }

    /// Text held back and not an echo after all (the reply went on otherwise, or ended).
    pub(crate) fn flush(&mut self) -> Option<String> {
        self.settled = true;
        let held = std::mem::take(&mut self.held);
        (!held.is_empty()).then_some(held)
    }
}

/// Cuts an echoed `prefix` from the start of a whole (non-streamed) reply.
pub(crate) fn cut_echo(content: &mut String, prefix: Option<&str>) {
    if let Some(p) = prefix.filter(|p| !p.is_empty())
        && content.starts_with(p)
    {
        content.drain(..p.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(prefix: Option<&str>, pieces: &[&str]) -> String {
        let mut cut = EchoCut::new(prefix);
        let mut out = String::new();
        for p in pieces {
            out.extend(cut.text((*p).to_owned()));
        }
        out.extend(cut.flush());
        out
    }

    #[test]
    fn an_echo_is_cut_however_it_is_split() {
        let p = Some("1, 2, 3,");
        assert_eq!(run(p, &["1, 2, 3, 4", ","]), " 4,");
        assert_eq!(run(p, &["1, 2", ", 3,", " 4,"]), " 4,");
        assert_eq!(run(p, &["1, 2, 3,"]), "");
    }

    #[test]
    fn a_reply_that_does_not_echo_is_kept_whole() {
        let p = Some("1, 2, 3,");
        assert_eq!(run(p, &[" 4,", " 5,"]), " 4, 5,");
        assert_eq!(run(p, &["1, 2", " and"]), "1, 2 and");
        assert_eq!(run(p, &["1, 2"]), "1, 2", "a reply shorter than the prefix");
        assert_eq!(run(None, &["1, 2, 3, 4"]), "1, 2, 3, 4");
        assert_eq!(run(Some(""), &["x"]), "x");
    }

    #[test]
    fn whole_replies_lose_only_a_complete_echo() {
        let mut s = "Once upon a time there".to_owned();
        cut_echo(&mut s, Some("Once upon a time"));
        assert_eq!(s, " there");
        let mut s = "Once".to_owned();
        cut_echo(&mut s, Some("Once upon"));
        assert_eq!(s, "Once");
        cut_echo(&mut s, None);
        assert_eq!(s, "Once");
    }
}
