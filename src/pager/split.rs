//! Splitting content into pages at token boundaries, and content hashes.

/// One piece of content: its text and its token count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Piece {
    pub(crate) text: String,
    pub(crate) tokens: u32,
}

/// Tokens of `text` (`cl100k_base`).
pub(crate) fn count_tokens(text: &str) -> u32 {
    u32::try_from(crate::provider::tokens::count(text)).unwrap_or(u32::MAX)
}

/// Splits `text` into pieces of at most `page_tokens` tokens each, cut at token boundaries
/// that are also character boundaries; the pieces concatenate to `text` exactly. A token
/// that ends inside a multi-byte character moves the cut back (or, for a single such token,
/// forward by the few tokens that finish the character).
pub(crate) fn split(text: &str, page_tokens: u32) -> Vec<Piece> {
    if text.is_empty() {
        return vec![Piece {
            text: String::new(),
            tokens: 0,
        }];
    }
    let bpe = tiktoken_rs::cl100k_base_singleton();
    let ranks = bpe.encode_ordinary(text);
    let per_page = usize::try_from(page_tokens.max(1)).unwrap_or(usize::MAX);
    if ranks.len() <= per_page {
        return vec![Piece {
            text: text.to_string(),
            tokens: u32::try_from(ranks.len()).unwrap_or(u32::MAX),
        }];
    }
    // ends[i] = byte offset just past token i.
    let mut ends = Vec::with_capacity(ranks.len());
    let mut at = 0usize;
    for rank in &ranks {
        at += bpe.decode_bytes(&[*rank]).map_or(0, |b| b.len());
        ends.push(at.min(text.len()));
    }
    let mut pieces = Vec::new();
    let (mut first_token, mut from) = (0usize, 0usize);
    while first_token < ranks.len() {
        let mut last = (first_token + per_page).min(ranks.len()) - 1;
        while last > first_token && !text.is_char_boundary(ends[last]) {
            last -= 1;
        }
        while last + 1 < ranks.len() && !text.is_char_boundary(ends[last]) {
            last += 1;
        }
        let to = if last + 1 == ranks.len() {
            text.len()
        } else {
            ends[last]
        };
        pieces.push(Piece {
            text: text[from..to].to_string(),
            tokens: u32::try_from(last + 1 - first_token).unwrap_or(u32::MAX),
        });
        first_token = last + 1;
        from = to;
    }
    pieces
}

/// Hex SHA-256 of `text`: the key of its blob in `page_blobs`.
pub(crate) fn hash(text: &str) -> String {
    crate::digest::sha256_hex(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_concatenate_to_the_original_and_respect_the_size() {
        let text = "héllo wörld — ünïcode ✓ 日本語のテキスト ".repeat(200);
        let pieces = split(&text, 64);
        assert!(pieces.len() > 5);
        let joined: String = pieces.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(joined, text);
        for p in &pieces {
            assert!(p.tokens <= 66, "{} tokens", p.tokens);
            assert!(p.tokens > 0);
        }
    }

    #[test]
    fn short_text_is_one_piece() {
        let pieces = split("a short line", 512);
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].text, "a short line");
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            hash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
