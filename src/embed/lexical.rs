//! The offline lexical embedder: signed feature hashing of words, word pairs and character
//! n-grams. Zero setup and deterministic; it finds texts that share words or spellings, not
//! texts that share meaning (see the paraphrase test in `tests/embed.rs`).

use rustc_hash::FxHashMap;

use super::{EmbedFuture, Embedder, EmbedderKind, l2_normalize};

/// Weight of a word unigram.
const WORD: f32 = 1.0;
/// Weight of a pair of adjacent words.
const BIGRAM: f32 = 0.7;
/// Weight of a character trigram of a word (padded with `#` at both ends).
const TRIGRAM: f32 = 0.35;
/// Namespaces of the three feature families, hashed before the feature so a word and an
/// identical trigram never collide on purpose.
const NS_WORD: u8 = b'w';
const NS_BIGRAM: u8 = b'b';
const NS_TRIGRAM: u8 = b'c';

/// Offline, deterministic feature-hashing embedder (id `lexical-hash-v1-<dim>`).
///
/// Features: the lowercased words of the text (Unicode alphanumeric runs), each adjacent word
/// pair, and the character trigrams of each word padded with `#` (`#pa`, `pag`, …, `es#`), so
/// inflections (`page`/`pages`) land near each other. Each feature is hashed with 64-bit
/// FNV-1a (written out here, seed fixed: identical across runs, processes and platforms)
/// followed by a SplitMix64 finaliser; the hash picks the coordinate (`h % dim`) and the sign
/// (the top bit), which keeps collisions unbiased. A feature seen `n` times contributes
/// `weight × (1 + ln n)` (sublinear term frequency); the vector is then L2-normalised. Empty
/// text (or text without letters or digits) gives the zero vector.
///
/// Changing any of this changes the vectors: bump the `v1` in the id when it changes.
#[derive(Debug, Clone)]
pub struct LexicalEmbedder {
    dimensions: usize,
    id: String,
}

impl LexicalEmbedder {
    /// An embedder into `dimensions` coordinates (at least 1; 0 is taken as 1).
    pub fn new(dimensions: usize) -> Self {
        let dimensions = dimensions.max(1);
        LexicalEmbedder {
            dimensions,
            id: format!("lexical-hash-v1-{dimensions}"),
        }
    }

    /// The vector of one text (synchronous; [`Embedder::embed`] maps this over its inputs).
    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut counts: FxHashMap<u64, (u32, f32)> = FxHashMap::default();
        let mut add = |h: u64, weight: f32| {
            counts.entry(h).or_insert((0, weight)).0 += 1;
        };
        let lower = text.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let mut padded = Vec::with_capacity(32);
        for (i, word) in words.iter().enumerate() {
            add(feature(NS_WORD, &[word.as_bytes()]), WORD);
            if let Some(next) = words.get(i + 1) {
                add(
                    feature(NS_BIGRAM, &[word.as_bytes(), b" ", next.as_bytes()]),
                    BIGRAM,
                );
            }
            padded.clear();
            padded.push('#');
            padded.extend(word.chars());
            padded.push('#');
            for gram in padded.windows(3) {
                let mut buf = [0u8; 12];
                let mut len = 0;
                for c in gram {
                    len += c.encode_utf8(&mut buf[len..]).len();
                }
                add(feature(NS_TRIGRAM, &[&buf[..len]]), TRIGRAM);
            }
        }
        let mut v = vec![0.0f32; self.dimensions];
        let dim = self.dimensions as u64;
        for (h, (n, weight)) in counts {
            let value = weight * (1.0 + (n as f32).ln());
            let slot = (h % dim) as usize;
            if h >> 63 == 1 {
                v[slot] -= value;
            } else {
                v[slot] += value;
            }
        }
        l2_normalize(&mut v);
        v
    }
}

impl Default for LexicalEmbedder {
    /// 384 dimensions, the width of the neural model's vectors and of the HNSW indexes.
    fn default() -> Self {
        LexicalEmbedder::new(384)
    }
}

impl Embedder for LexicalEmbedder {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> EmbedderKind {
        EmbedderKind::Lexical
    }

    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn embed<'a>(&'a self, texts: &'a [&'a str]) -> EmbedFuture<'a> {
        // Microseconds per text: computed in place, no blocking-pool hop.
        let out = texts.iter().map(|t| self.embed_one(t)).collect();
        Box::pin(std::future::ready(Ok(out)))
    }
}

/// The hash of one feature: FNV-1a 64 over the namespace byte and the parts, then SplitMix64
/// (FNV's low bits alone are weak for `% dim`).
fn feature(namespace: u8, parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    };
    eat(namespace);
    for part in parts {
        part.iter().copied().for_each(&mut eat);
    }
    splitmix64(h)
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::cosine;

    #[test]
    fn fnv_is_the_published_function() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c (published test vector); check the raw
        // function by undoing nothing: hash the bytes without namespace through the same loop.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        h ^= u64::from(b'a');
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        assert_eq!(h, 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn hash_values_are_pinned() {
        // A change here changes every stored lexical vector: bump the id's version with it.
        assert_eq!(
            feature(NS_WORD, &[b"pager"]),
            feature(NS_WORD, &[b"pa", b"ger"])
        );
        assert_eq!(feature(NS_WORD, &[b"pager"]), 0x597b_6f24_90f4_d096);
        let e = LexicalEmbedder::new(8);
        let v = e.embed_one("Pager pages");
        let again = LexicalEmbedder::new(8).embed_one("pager PAGES");
        assert_eq!(v, again);
    }

    #[test]
    fn empty_and_symbol_only_text_is_the_zero_vector() {
        let e = LexicalEmbedder::new(16);
        assert!(e.embed_one("").iter().all(|x| *x == 0.0));
        assert!(e.embed_one("?! ... --").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn inflections_are_near() {
        let e = LexicalEmbedder::default();
        let a = e.embed_one("evicting pages");
        let b = e.embed_one("evicted page");
        let c = e.embed_one("quarterly revenue report");
        assert!(cosine(&a, &b) > cosine(&a, &c));
    }

    #[test]
    fn zero_dimensions_is_one() {
        assert_eq!(LexicalEmbedder::new(0).dimensions(), 1);
    }
}
