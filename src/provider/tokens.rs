//! A faster exact `cl100k_base` token count: the tiktoken pre-tokenizer re-expressed for a lazy
//! DFA (`regex-automata`), plus a per-thread cache of BPE counts per piece.
//!
//! tiktoken-rs 0.12 splits text with the fancy-regex pattern
//!
//! ```text
//! '(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+
//! |\s++$|\s*[\r\n]|\s+(?!\S)|\s
//! ```
//!
//! and BPE-encodes each piece on its own, so the count of a text is the sum of the counts of
//! its pieces. The possessive quantifiers never change a match here (nothing after them could
//! make a backtrack succeed), so they become greedy ones. The lookahead `\s+(?!\S)` is only
//! reached when the whitespace run at the search position neither reaches the end of the text
//! (`\s+$` would have matched) nor holds a line break (`\s*[\r\n]`), so it matches the run
//! without its last character, or nothing if the run is one character long. That is the
//! separate pattern `\s+\s` (the whole run, at least two characters) with its last character
//! dropped; the next search resumes at that character. A single `\s` covers the rest.
//!
//! Every search is anchored at the end of the previous piece; the patterns cover every
//! character, so the pieces tile the text exactly as tiktoken's matches do. The unit tests
//! check counts and token sequences against tiktoken-rs, and the split itself against
//! tiktoken's (made visible through a `CoreBPE` whose vocabulary is our pieces), over the
//! repository's own text, all short whitespace mixes and generated adversarial strings.

use std::cell::RefCell;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};

use regex_automata::meta::{Cache, Regex};
use regex_automata::{Anchored, Input, PatternID};
use rustc_hash::FxHashMap;
use tiktoken_rs::Rank;

/// The pre-tokenizer patterns, tried leftmost-first in this order at each piece start.
const PATTERNS: [&str; 3] = [
    concat!(
        r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}",
        r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+$|\s*[\r\n]",
    ),
    // `\s+(?!\S)`: matched as the whole run; the last character is dropped.
    r"\s+\s",
    r"\s",
];

/// The pattern whose match loses its last character (the lookahead emulation).
const LOOKAHEAD: PatternID = PatternID::new_unchecked(1);

/// Cached pieces per thread before the cache is cleared.
const CACHE_CAP: usize = 65_536;

/// Longer pieces (long words or whitespace runs, base64 blobs) are counted but not cached,
/// which bounds the cache to about 8 MiB per thread (usually far less).
const MAX_CACHED_PIECE: usize = 64;

/// The compiled pre-tokenizer; `None` (never expected: the patterns are constants) makes every
/// count go to tiktoken-rs directly.
static SPLITTER: LazyLock<Option<Regex>> = LazyLock::new(|| match Regex::new_many(&PATTERNS) {
    Ok(re) => Some(re),
    Err(e) => {
        tracing::error!(error = %e, "token pre-tokenizer did not build; counting with tiktoken-rs");
        None
    }
});

/// cl100k's ordinary tokens: ranks `0..CL100K_RANKS` (the special tokens come after).
const CL100K_RANKS: Rank = 100_256;

/// tiktoken's BPE switches to another merge routine from this piece length on; such pieces
/// are left to `encode_ordinary`.
const BPE_SPLIT_MAX: usize = 100;

/// cl100k's ranks, read back from tiktoken-rs token by token (`decode_bytes`), so that a piece
/// missing from the cache goes through tiktoken's own BPE merge (`byte_pair_split`) without
/// its regex running again. Built on the first cache miss (about 100 000 entries).
static RANKS: LazyLock<FxHashMap<Vec<u8>, Rank>> = LazyLock::new(|| {
    let bpe = tiktoken_rs::cl100k_base_singleton();
    (0..CL100K_RANKS)
        .filter_map(|r| Some((bpe.decode_bytes(&[r]).ok()?, r)))
        .collect()
});

/// Per-thread search cache and piece counts (no locking on the hot path).
#[derive(Default)]
struct State {
    search: Option<Cache>,
    counts: FxHashMap<Box<str>, u32>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Set once every table behind [`count`] is built: from then on a count never waits for an
/// initialisation.
static READY: AtomicBool = AtomicBool::new(false);

/// Builds the tokenizer's tables (≈ 0.1 s in a release build, seconds in a debug one) on a
/// thread of its own, once; until it is done [`try_count`] answers `None`, so no caller (and
/// no arbiter) ever waits for it.
pub(crate) fn warm_up_in_background() {
    static STARTED: AtomicBool = AtomicBool::new(false);
    if STARTED.swap(true, Ordering::AcqRel) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("tokenizer-warm-up".into())
        .spawn(|| {
            LazyLock::force(&SPLITTER);
            LazyLock::force(&RANKS);
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

/// [`count`] once the tables are built (see [`warm_up_in_background`]); `None` before.
pub(crate) fn try_count(text: &str) -> Option<u64> {
    ready().then(|| count(text))
}

/// Tokens of `text` in `cl100k_base`, exactly as
/// `tiktoken_rs::cl100k_base_singleton().encode_ordinary(text).len()`. Builds the tables on
/// first use (use [`try_count`] where that must not block).
pub(crate) fn count(text: &str) -> u64 {
    if text.is_empty() {
        return 0;
    }
    let Some(re) = SPLITTER.as_ref() else {
        return tiktoken_count(text);
    };
    STATE
        .try_with(|state| {
            let mut state = state.try_borrow_mut().ok()?;
            let State { search, counts } = &mut *state;
            let search = search.get_or_insert_with(|| re.create_cache());
            let mut n = 0;
            for_each_piece(re, search, text, |piece| n += piece_count(counts, piece))?;
            Some(n)
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| tiktoken_count(text))
}

/// tiktoken-rs itself: the oracle, and the fallback.
fn tiktoken_count(text: &str) -> u64 {
    tiktoken_rs::cl100k_base_singleton()
        .encode_ordinary(text)
        .len() as u64
}

/// Tokens of one piece as `encode_ordinary` counts it (a piece split again on its own is the
/// piece itself): one if the piece is a token, else the parts of tiktoken's BPE merge.
fn bpe_count(piece: &str) -> u64 {
    let bytes = piece.as_bytes();
    if bytes.len() >= BPE_SPLIT_MAX {
        return tiktoken_count(piece);
    }
    let ranks = &*RANKS;
    if ranks.contains_key(bytes) {
        1
    } else if bytes.len() < 2 {
        // Every byte is a token; only an incomplete rank table gets here.
        tiktoken_count(piece)
    } else {
        tiktoken_rs::byte_pair_split(bytes, ranks).len() as u64
    }
}

/// Tokens of one piece, from the cache or BPE-encoded.
fn piece_count(counts: &mut FxHashMap<Box<str>, u32>, piece: &str) -> u64 {
    if piece.len() > MAX_CACHED_PIECE {
        return bpe_count(piece);
    }
    if let Some(&n) = counts.get(piece) {
        return u64::from(n);
    }
    let n = bpe_count(piece);
    if let Ok(small) = u32::try_from(n) {
        if counts.len() >= CACHE_CAP {
            counts.clear();
        }
        counts.insert(piece.into(), small);
    }
    n
}

/// Calls `f` with each tiktoken piece of `text`, in order. `None` if a search finds no piece
/// (not expected: the last pattern matches any whitespace and the first anything else); the
/// caller then counts with tiktoken-rs.
fn for_each_piece<'t>(
    re: &Regex,
    cache: &mut Cache,
    text: &'t str,
    mut f: impl FnMut(&'t str),
) -> Option<()> {
    let mut at = 0;
    while at < text.len() {
        let input = Input::new(text).range(at..).anchored(Anchored::Yes);
        let m = re.search_half_with(cache, &input)?;
        let mut end = m.offset();
        if m.pattern() == LOOKAHEAD {
            end -= text.get(at..end)?.chars().next_back()?.len_utf8();
        }
        if end <= at {
            return None;
        }
        f(text.get(at..end)?);
        at = end;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use tiktoken_rs::CoreBPE;

    /// tiktoken-rs 0.12's `cl100k_base` pattern, for the split oracle.
    const TIKTOKEN_PATTERN: &str = concat!(
        r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+",
        r"| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s",
    );

    fn cl100k() -> &'static CoreBPE {
        tiktoken_rs::cl100k_base_singleton()
    }

    /// The pieces of `text` by our splitter.
    fn pieces(text: &str) -> Vec<&str> {
        let re = SPLITTER.as_ref().expect("the pre-tokenizer builds");
        let mut out = Vec::new();
        STATE.with_borrow_mut(|s| {
            let cache = s.search.get_or_insert_with(|| re.create_cache());
            for_each_piece(re, cache, text, |p| out.push(p)).expect("every text splits");
        });
        out
    }

    /// `count` equals tiktoken-rs, the pieces tile the text, each piece splits to itself, and
    /// the pieces' cl100k tokens concatenate to the text's.
    fn check(text: &str) {
        let want = tiktoken_count(text);
        let got = count(text);
        assert_eq!(
            got, want,
            "count_text({text:?}): ours {got}, tiktoken-rs {want}"
        );
        let ps = pieces(text);
        assert_eq!(
            ps.concat(),
            text,
            "pieces of {text:?} do not tile it: {ps:?}"
        );
        let mut tokens = Vec::new();
        for p in &ps {
            assert_eq!(pieces(p), [*p], "piece {p:?} of {text:?} splits further");
            tokens.extend(cl100k().encode_ordinary(p));
        }
        let want = cl100k().encode_ordinary(text);
        assert_eq!(tokens, want, "tokens of {text:?} differ (pieces {ps:?})");
    }

    /// tiktoken's own split made visible: a `CoreBPE` with the cl100k pattern whose
    /// vocabulary is the 256 bytes plus every piece we produce. tiktoken looks a whole piece
    /// up before running BPE, so when the splits agree it returns exactly one token per piece
    /// of ours. Where tiktoken's piece is shorter than ours, the token there is shorter too:
    /// caught always; where it is longer, caught unless the piece is new to the vocabulary
    /// and BPE happens to rebuild our pieces (the cl100k checks catch those).
    struct SplitOracle {
        bpe: CoreBPE,
        ranks: FxHashMap<Vec<u8>, Rank>,
        bytes: Vec<Vec<u8>>,
    }

    impl SplitOracle {
        fn new(texts: &[String]) -> Self {
            let mut ranks = FxHashMap::default();
            let mut bytes = Vec::new();
            let mut add = |b: &[u8]| {
                if !ranks.contains_key(b) {
                    ranks.insert(b.to_vec(), bytes.len() as Rank);
                    bytes.push(b.to_vec());
                }
            };
            for b in 0..=255u8 {
                add(&[b]);
            }
            for t in texts {
                for p in pieces(t) {
                    add(p.as_bytes());
                }
            }
            let bpe = CoreBPE::new(ranks.clone(), FxHashMap::default(), TIKTOKEN_PATTERN)
                .expect("the oracle builds");
            Self { bpe, ranks, bytes }
        }

        /// tiktoken splits each of our pieces, alone, into that piece (what the piece cache
        /// relies on).
        fn check_pieces(&self) {
            for (rank, p) in self.bytes.iter().enumerate().skip(256) {
                let got = self
                    .bpe
                    .encode_ordinary(std::str::from_utf8(p).expect("a piece"));
                assert_eq!(
                    got,
                    [rank as Rank],
                    "piece {:?} alone",
                    String::from_utf8_lossy(p)
                );
            }
        }

        fn check(&self, text: &str) {
            let ours = pieces(text);
            let want: Vec<Rank> = ours.iter().map(|p| self.ranks[p.as_bytes()]).collect();
            let got = self.bpe.encode_ordinary(text);
            if got != want {
                let theirs: Vec<_> = got
                    .iter()
                    .map(|&r| String::from_utf8_lossy(&self.bytes[r as usize]))
                    .collect();
                panic!("split of {text:?}: ours {ours:?}, tiktoken's tokens {theirs:?}");
            }
        }
    }

    /// All checks on every text, then the split oracle over all of them.
    fn check_all(texts: &[String]) {
        for t in texts {
            check(t);
        }
        let oracle = SplitOracle::new(texts);
        for t in texts {
            oracle.check(t);
        }
        oracle.check_pieces();
    }

    /// The rank table read back from tiktoken-rs is complete: every ordinary token, every byte.
    #[test]
    fn rank_table() {
        assert_eq!(RANKS.len(), CL100K_RANKS as usize);
        assert!((0..=255u8).all(|b| RANKS.contains_key(&[b][..])));
        assert!(cl100k().decode_bytes(&[CL100K_RANKS]).is_err());
    }

    #[test]
    fn edge_cases() {
        assert_eq!(count(""), 0);
        let texts = [
            " ",
            "  ",
            "\n",
            "\n\n\n",
            "\r\n",
            "\r\n\r\n",
            " \n ",
            "\t\t",
            "   \t \n\n  ",
            "\u{a0}",
            "\u{3000}\u{3000}",
            "hello ",
            "hello   ",
            "hello\n",
            "hello \n\n",
            "a  b",
            "a   b",
            "a \n b",
            "a\u{a0} b",
            "x\t\ty",
            "'s",
            "'S",
            "'sa",
            "don't",
            "I'LL",
            "'ſ",
            "12345678",
            "a1b22c333",
            "..\n\n",
            "!? \r\n",
            "   !",
            "🦀🦀 ",
        ];
        check_all(&texts.map(String::from));
    }

    /// Every `.rs` and `.md` file of the repository, whole and line by line.
    #[test]
    fn repository_corpus() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs" || x == "md") {
                    out.push(p);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![root.join("README.md")];
        for d in ["src", "docs", "tests"] {
            walk(&root.join(d), &mut files);
        }
        let mut texts = Vec::new();
        for f in &files {
            let text = std::fs::read_to_string(f).expect("repository files are UTF-8");
            texts.extend(text.lines().map(String::from));
            texts.push(text);
        }
        assert!(
            files.len() > 50 && texts.len() > 5_000,
            "{} files",
            files.len()
        );
        check_all(&texts);
    }

    /// Every string of up to six items over the characters the whitespace rules tell apart.
    #[test]
    fn exhaustive_short_strings() {
        const ITEMS: [char; 7] = [' ', '\t', '\n', '\r', '\u{a0}', 'a', '.'];
        let mut texts = Vec::new();
        for len in 1..=6u32 {
            for mut k in 0..ITEMS.len().pow(len) {
                let mut text = String::new();
                for _ in 0..len {
                    text.push(ITEMS[k % ITEMS.len()]);
                    k /= ITEMS.len();
                }
                texts.push(text);
            }
        }
        check_all(&texts);
    }

    /// Items the generated strings are made of: every class the pattern distinguishes.
    const ALPHABET: &[&str] = &[
        " ",
        "\t",
        "\n",
        "\r",
        "\r\n",
        "  ",
        "\u{a0}",
        "\u{3000}",
        "\u{85}",
        "\u{2028}",
        "\u{200b}",
        "\u{feff}",
        "\x1c",
        "\x0b",
        "\x0c",
        "a",
        "z",
        "K",
        "Q",
        "e",
        "s",
        "t",
        "l",
        "é",
        "e\u{301}",
        "\u{301}",
        "ß",
        "ſ",
        "İ",
        "漢",
        "字",
        "ひらがな",
        "Привет",
        "مرحبا",
        "🦀",
        "👩\u{200d}💻",
        "\u{1f3fb}",
        "0",
        "7",
        "42",
        "٣",
        "Ⅻ",
        "½",
        "²",
        "'",
        "'s",
        "'S",
        "'ll",
        "'LL",
        "'ve",
        "'re",
        "'d",
        "'m",
        "'t",
        "'x",
        "’s",
        "'ſ",
        "...",
        "!?",
        "->",
        "#",
        "$",
        "```",
        "\\",
        "\"",
        "(",
        ")",
        "_",
        "-",
        "word",
        "Word",
        " the",
        " 123",
    ];

    /// xorshift64*: deterministic, no dependency.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
        }
    }

    #[test]
    fn generated_adversarial_strings() {
        // Long runs, picked rarely.
        let long = [
            " ".repeat(300),
            "0".repeat(50),
            "\n".repeat(20),
            "a".repeat(75),
            "!".repeat(40),
            " \t".repeat(30),
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut texts = Vec::new();
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..1 + rng.below(60) {
                if rng.below(40) == 0 {
                    text.push_str(&long[rng.below(long.len())]);
                } else {
                    text.push_str(ALPHABET[rng.below(ALPHABET.len())]);
                }
            }
            texts.push(text);
        }
        check_all(&texts);
    }
}
