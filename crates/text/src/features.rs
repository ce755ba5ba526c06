//! Feature extraction: jieba words plus character 1–3-grams, hashed straight into a
//! fixed-size space (no n-gram strings are built), counted into a sparse vector whose
//! buffers live in a reusable [`Scratch`] so classifying a text allocates little.

use jieba_rs::Jieba;

use crate::error::TextError;
use crate::normalize::{InputStats, is_han, normalize_into};

/// Settings that fix the feature space; a model is only valid with the same settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FeatureConfig {
    /// The feature space has `2^dim_bits` slots.
    pub dim_bits: u8,
    /// Characters kept after normalisation; the rest is ignored.
    pub max_chars: usize,
    /// Whether jieba words are features (character n-grams always are).
    pub words: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            dim_bits: 17,
            max_chars: 2_000,
            words: true,
        }
    }
}

impl FeatureConfig {
    /// Number of slots in the feature space.
    pub fn dim(&self) -> usize {
        1usize << self.dim_bits
    }

    /// Checks the settings are usable.
    pub fn validate(&self) -> Result<(), TextError> {
        // The cap also bounds what a model file can make the reader allocate.
        if !(10..=20).contains(&self.dim_bits) {
            return Err(TextError::InvalidConfig {
                field: "dim_bits",
                reason: format!("{} is outside 10..=20", self.dim_bits),
            });
        }
        if self.max_chars == 0 || self.max_chars > 100_000 {
            return Err(TextError::InvalidConfig {
                field: "max_chars",
                reason: format!("{} is outside 1..=100000", self.max_chars),
            });
        }
        Ok(())
    }
}

/// Reusable buffers for extraction; keep one per thread and pass it to every call.
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    pub(crate) text: String,
    pub(crate) hashes: Vec<u32>,
    /// The last extracted sparse vector: (slot, weight), slots ascending and unique.
    pub features: Vec<(u32, f32)>,
}

impl Scratch {
    /// Empty buffers.
    pub fn new() -> Self {
        Scratch::default()
    }

    /// The normalised text of the last extraction.
    pub fn normalized(&self) -> &str {
        &self.text
    }
}

// Distinct seeds keep words and each n-gram order in separate hash families.
const SEED_WORD: u64 = 0x9E37_79B9_7F4A_7C15;
const SEED_GRAM: [u64; 3] = [
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0x27D4_EB2F_1656_67C5,
];
const FNV_PRIME: u64 = 0x0000_0100_0000_01B3;

/// A 64-bit finaliser so nearby inputs spread over the whole space.
#[inline]
pub(crate) fn mix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// Hash of a character n-gram given as code points.
#[inline]
pub(crate) fn hash_chars(chars: &[char]) -> u64 {
    let order = chars.len().clamp(1, 3) - 1;
    let mut h = SEED_GRAM.get(order).copied().unwrap_or(SEED_WORD);
    for &c in chars {
        h = (h ^ u64::from(u32::from(c))).wrapping_mul(FNV_PRIME);
    }
    mix64(h)
}

/// Hash of a word's bytes.
#[inline]
fn hash_word(word: &str) -> u64 {
    let mut h = SEED_WORD;
    for &b in word.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    mix64(h)
}

/// Characters that break n-gram runs: they carry little meaning next to their neighbours.
#[inline]
fn is_break(c: char) -> bool {
    c == ' '
        || c.is_ascii_punctuation()
        || matches!(
            c,
            '。' | '、'
                | '…'
                | '—'
                | '《'
                | '》'
                | '「'
                | '」'
                | '【'
                | '】'
                | '·'
                | '“'
                | '”'
                | '‘'
                | '’'
        )
}

/// Digits collapse to one symbol: amounts and numbers matter by presence, not value.
#[inline]
fn fold_digit(c: char) -> char {
    if c.is_ascii_digit() { '0' } else { c }
}

/// Turns text into hashed sparse features. Holds the jieba dictionary: build one per
/// process and share it (it is `Sync`).
pub struct Featurizer {
    jieba: Jieba,
    config: FeatureConfig,
}

impl std::fmt::Debug for Featurizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Featurizer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Featurizer {
    /// Loads the jieba dictionary (about 0.1 s) and checks the settings.
    pub fn new(config: FeatureConfig) -> Result<Self, TextError> {
        config.validate()?;
        Ok(Featurizer {
            jieba: Jieba::new(),
            config,
        })
    }

    /// The settings this featurizer was built with.
    pub fn config(&self) -> FeatureConfig {
        self.config
    }

    /// The jieba segmenter, for callers that want words themselves.
    pub fn jieba(&self) -> &Jieba {
        &self.jieba
    }

    /// Segments normalised text into words (single characters and punctuation dropped).
    pub fn words<'a>(&self, normalized: &'a str) -> Vec<&'a str> {
        self.jieba
            .cut(normalized, false)
            .into_iter()
            .map(|t| t.word)
            .filter(|w| w.chars().nth(1).is_some() && !w.chars().all(is_break))
            .collect()
    }

    /// Normalises `text` and leaves raw counts, as (slot, count) with slots ascending,
    /// in `scratch.features`.
    pub fn extract_counts(&self, text: &str, scratch: &mut Scratch) -> InputStats {
        let stats = normalize_into(text, self.config.max_chars, &mut scratch.text);
        let mask = (self.config.dim() - 1) as u64;
        scratch.hashes.clear();
        let Scratch {
            text,
            hashes,
            features,
        } = scratch;
        let mut window: [char; 3] = [' '; 3];
        let mut run = 0usize;
        for c in text.chars() {
            if c == ' ' {
                run = 0;
                continue;
            }
            let c = fold_digit(c);
            hashes.push((hash_chars(&[c]) & mask) as u32);
            if is_break(c) {
                run = 0;
                continue;
            }
            window = [window[1], window[2], c];
            run += 1;
            if run >= 2 {
                hashes.push((hash_chars(&window[1..]) & mask) as u32);
            }
            if run >= 3 {
                hashes.push((hash_chars(&window) & mask) as u32);
            }
        }
        if self.config.words && stats.han > 0 {
            for token in self.jieba.cut(text, false) {
                let w = token.word;
                if w.chars().nth(1).is_none() || w.chars().any(|c| c == ' ' || is_break(c)) {
                    continue;
                }
                let h = if w.chars().all(|c| c.is_ascii_digit()) {
                    hash_word("<num>")
                } else {
                    hash_word(w)
                };
                hashes.push((h & mask) as u32);
            }
        }
        hashes.sort_unstable();
        features.clear();
        for &h in hashes.iter() {
            match features.last_mut() {
                Some(last) if last.0 == h => last.1 += 1.0,
                _ => features.push((h, 1.0)),
            }
        }
        stats
    }

    /// Normalises and weights: log-count times `idf` (indexed by slot; missing slots
    /// weigh 1), then scales to unit length. The result is in `scratch.features`.
    pub fn extract_weighted(&self, text: &str, idf: &[f32], scratch: &mut Scratch) -> InputStats {
        let stats = self.extract_counts(text, scratch);
        weigh_in_place(&mut scratch.features, idf);
        stats
    }
}

/// Log-count × idf, then L2 normalisation, in place.
pub(crate) fn weigh_in_place(features: &mut [(u32, f32)], idf: &[f32]) {
    let mut norm = 0.0f32;
    for (slot, v) in features.iter_mut() {
        let w = idf.get(*slot as usize).copied().unwrap_or(1.0);
        *v = (1.0 + v.ln()) * w;
        norm += *v * *v;
    }
    if norm > 0.0 {
        let inv = 1.0 / norm.sqrt();
        for (_, v) in features.iter_mut() {
            *v *= inv;
        }
    }
}

/// Share of Han characters among the non-space characters of normalised text.
pub fn han_ratio(normalized: &str) -> f32 {
    let mut han = 0usize;
    let mut all = 0usize;
    for c in normalized.chars().filter(|c| *c != ' ') {
        all += 1;
        if is_han(c) {
            han += 1;
        }
    }
    if all == 0 {
        0.0
    } else {
        han as f32 / all as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_sorted_unique_and_in_range() {
        let f = Featurizer::new(FeatureConfig {
            dim_bits: 12,
            ..FeatureConfig::default()
        });
        let Ok(f) = f else { panic!("featurizer") };
        let mut s = Scratch::new();
        let st = f.extract_counts(
            "我家隔壁天天晚上唱歌，吵得睡不着！！电话13800000000",
            &mut s,
        );
        assert!(st.han > 10);
        assert!(!s.features.is_empty());
        for w in s.features.windows(2) {
            if let [a, b] = w {
                assert!(a.0 < b.0);
            }
        }
        assert!(
            s.features
                .iter()
                .all(|(i, c)| (*i as usize) < 4096 && *c >= 1.0)
        );
    }

    #[test]
    fn weighted_vector_has_unit_length_and_same_text_same_vector() {
        let Ok(f) = Featurizer::new(FeatureConfig::default()) else {
            panic!("featurizer")
        };
        let mut a = Scratch::new();
        let mut b = Scratch::new();
        f.extract_weighted("电动车被偷了", &[], &mut a);
        f.extract_weighted("电动车被偷了", &[], &mut b);
        let n: f32 = a.features.iter().map(|(_, v)| v * v).sum();
        assert!((n - 1.0).abs() < 1e-4);
        assert_eq!(a.features, b.features);
    }

    #[test]
    fn bad_settings_are_rejected() {
        let e = FeatureConfig {
            dim_bits: 40,
            ..FeatureConfig::default()
        }
        .validate();
        assert!(matches!(
            e,
            Err(TextError::InvalidConfig {
                field: "dim_bits",
                ..
            })
        ));
    }
}
