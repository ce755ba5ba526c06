//! Near-duplicate detection. Residents describe one event in different words, so a
//! SimHash over character shingles (which only catches copies and light edits) is
//! combined with the cosine similarity of idf-weighted characters and character
//! bigrams (trigrams were tried: paraphrases rarely share them, so they only dilute), and
//! with the caller's area and day keys: two texts are one matter when they share an
//! area, fall within a window of days, and are copies or similar enough. A batch is
//! grouped by union-find; candidate pairs come from an inverted index, so texts that
//! share no n-gram are never compared.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::features::hash_chars;
use crate::normalize::{is_han, normalize_into};

/// Cosine threshold calibrated on crates/text/corpus/pairs.jsonl: the top of the
/// best-F1 plateau there (precision 0.82, recall 1.00 on 80 pairs; see the README and
/// the test that re-measures it). The misses are same-place, same-topic, different
/// events, which the caller's area and day keys are for.
pub const DEFAULT_THRESHOLD: f32 = 0.20;

/// Near-duplicate settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DedupConfig {
    /// Texts at or above this weighted-n-gram cosine are duplicates.
    pub threshold: f32,
    /// Texts whose SimHashes differ in at most this many bits are copies.
    pub simhash_max_distance: u32,
    /// Texts more than this many days apart are never merged (when both have a day).
    pub window_days: i64,
    /// Characters read from each text.
    pub max_chars: usize,
}

impl Default for DedupConfig {
    fn default() -> Self {
        DedupConfig {
            threshold: DEFAULT_THRESHOLD,
            simhash_max_distance: 3,
            window_days: 7,
            max_chars: 2_000,
        }
    }
}

/// One text to compare, with the caller's optional keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupItem<'a> {
    pub text: &'a str,
    /// Area key (village, grid or station code): different areas never merge.
    pub area: Option<&'a str>,
    /// Day number (e.g. days since an epoch): too far apart never merge.
    pub day: Option<i64>,
}

impl<'a> DedupItem<'a> {
    /// An item with only text.
    pub fn text(text: &'a str) -> Self {
        DedupItem {
            text,
            area: None,
            day: None,
        }
    }
}

/// Shingles and SimHash of one text, before batch weighting.
#[derive(Debug, Clone, PartialEq)]
pub struct Sketch {
    pub simhash: u64,
    /// (shingle hash, count), hashes ascending.
    pub counts: Vec<(u32, f32)>,
}

/// Builds the sketch of one text (no jieba needed: shingles are character n-grams).
pub fn sketch(text: &str, max_chars: usize) -> Sketch {
    let mut norm = String::new();
    normalize_into(text, max_chars, &mut norm);
    let chars: Vec<char> = norm
        .chars()
        .filter(|c| is_han(*c) || c.is_alphanumeric())
        .collect();
    let mut hashes: Vec<u64> = Vec::with_capacity(chars.len() * 2);
    for n in 1..=2 {
        for w in chars.windows(n) {
            hashes.push(hash_chars(w));
        }
    }
    if hashes.is_empty() {
        // A one-character text still needs a shingle to be comparable.
        hashes.extend(chars.iter().map(|c| hash_chars(&[*c])));
    }
    let mut bits = [0i32; 64];
    for h in &hashes {
        for (b, acc) in bits.iter_mut().enumerate() {
            *acc += if (h >> b) & 1 == 1 { 1 } else { -1 };
        }
    }
    let simhash = bits
        .iter()
        .enumerate()
        .fold(0u64, |s, (b, &v)| if v > 0 { s | (1 << b) } else { s });
    let mut short: Vec<u32> = hashes.iter().map(|h| (h >> 32) as u32).collect();
    short.sort_unstable();
    let mut counts: Vec<(u32, f32)> = Vec::new();
    for h in short {
        match counts.last_mut() {
            Some(l) if l.0 == h => l.1 += 1.0,
            _ => counts.push((h, 1.0)),
        }
    }
    Sketch { simhash, counts }
}

/// A pair judged in a batch.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Link {
    pub a: usize,
    pub b: usize,
    pub cosine: f32,
    pub simhash_distance: u32,
}

/// Groups of one batch.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Clustering {
    /// For each input item, the index of its group in `groups`.
    pub group_of: Vec<usize>,
    /// Member indices of each group, ascending; groups ordered by first member.
    pub groups: Vec<Vec<usize>>,
    /// The pairs that were merged.
    pub links: Vec<Link>,
}

/// Document frequencies of shingles in the shipped corpus: a fixed background so a
/// pair's score does not depend on what else is in the batch, and shingles every
/// complaint shares (派出, 反映, 了) count little. Built once on first use.
fn background_idf() -> &'static (HashMap<u32, f32>, f32) {
    static IDF: OnceLock<(HashMap<u32, f32>, f32)> = OnceLock::new();
    IDF.get_or_init(|| {
        let corpus = crate::corpus::builtin_corpus().unwrap_or_default();
        let mut df: HashMap<u32, u32> = HashMap::new();
        for e in &corpus {
            for (h, _) in sketch(&e.text, 2_000).counts {
                *df.entry(h).or_insert(0) += 1;
            }
        }
        let n = corpus.len() as f32;
        let idf = df
            .into_iter()
            .map(|(h, d)| (h, ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0))
            .collect();
        (idf, (1.0 + n).ln() + 1.0)
    })
}

/// Log-count × background idf, scaled to unit length.
fn weigh(sketch: &Sketch) -> Vec<(u32, f32)> {
    let (idf, unseen) = background_idf();
    let mut v: Vec<(u32, f32)> = sketch
        .counts
        .iter()
        .map(|&(h, c)| (h, (1.0 + c.ln()) * idf.get(&h).copied().unwrap_or(*unseen)))
        .collect();
    let norm = v.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, w) in v.iter_mut() {
            *w /= norm;
        }
    }
    v
}

/// A text ready for comparison: its SimHash and weighted unit vector. Keep these for
/// stored matters to compare new texts against them without re-reading the old ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub simhash: u64,
    /// (shingle hash, weight), hashes ascending, unit length.
    pub vector: Vec<(u32, f32)>,
}

/// Prepares one text for [`compare_prepared`].
pub fn prepare(text: &str, max_chars: usize) -> Prepared {
    let sk = sketch(text, max_chars);
    Prepared {
        simhash: sk.simhash,
        vector: weigh(&sk),
    }
}

/// Cosine similarity and SimHash distance of two prepared texts (`a` = 0, `b` = 1).
pub fn compare_prepared(a: &Prepared, b: &Prepared) -> Link {
    Link {
        a: 0,
        b: 1,
        cosine: dot(&a.vector, &b.vector).min(1.0),
        simhash_distance: (a.simhash ^ b.simhash).count_ones(),
    }
}

/// Cosine similarity and SimHash distance of two texts.
pub fn compare(a: &str, b: &str, max_chars: usize) -> Link {
    compare_prepared(&prepare(a, max_chars), &prepare(b, max_chars))
}

fn keys_allow(a: &DedupItem<'_>, b: &DedupItem<'_>, window_days: i64) -> bool {
    let area_ok = match (a.area, b.area) {
        (Some(x), Some(y)) => x == y,
        _ => true,
    };
    let day_ok = match (a.day, b.day) {
        (Some(x), Some(y)) => x.abs_diff(y) <= window_days.unsigned_abs(),
        _ => true,
    };
    area_ok && day_ok
}

/// Background idf below which a shingle is too common (in over about 5% of the
/// corpus: 的, 了, 我) to propose candidate pairs; it still counts in the cosine.
/// Without this cut a batch of thousands compares nearly every pair through 的.
const STOP_IDF: f32 = 4.0;

fn dot(a: &[(u32, f32)], b: &[(u32, f32)]) -> f32 {
    let (mut i, mut j, mut sum) = (0usize, 0usize, 0.0f32);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.0.cmp(&y.0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                sum += x.1 * y.1;
                i += 1;
                j += 1;
            }
        }
    }
    sum
}

/// Every pair of the batch that shares an uncommon shingle or has the same SimHash,
/// with its exact cosine and SimHash distance (ignoring area and day keys). Pairs
/// sharing only common shingles have a cosine far below any useful threshold.
pub fn candidate_pairs(texts: &[&str], max_chars: usize) -> Vec<Link> {
    let sketches: Vec<Sketch> = texts.iter().map(|t| sketch(t, max_chars)).collect();
    let vectors: Vec<Vec<(u32, f32)>> = sketches.iter().map(weigh).collect();
    let (idf, unseen) = background_idf();
    let mut postings: HashMap<u32, Vec<usize>> = HashMap::new();
    let mut by_simhash: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut seen = vec![false; texts.len()];
    let mut touched: Vec<usize> = Vec::new();
    let mut out = Vec::new();
    for (i, (sk, v)) in sketches.iter().zip(&vectors).enumerate() {
        let rare = |h: &u32| idf.get(h).copied().unwrap_or(*unseen) >= STOP_IDF;
        let lists = sk
            .counts
            .iter()
            .filter(|(h, _)| rare(h))
            .filter_map(|(h, _)| postings.get(h))
            .chain(by_simhash.get(&sk.simhash));
        for list in lists {
            for &j in list {
                if let Some(flag) = seen.get_mut(j).filter(|f| !**f) {
                    *flag = true;
                    touched.push(j);
                }
            }
        }
        for (h, _) in sk.counts.iter().filter(|(h, _)| rare(h)) {
            postings.entry(*h).or_default().push(i);
        }
        by_simhash.entry(sk.simhash).or_default().push(i);
        touched.sort_unstable();
        for &j in &touched {
            let (Some(a), Some(va)) = (sketches.get(j), vectors.get(j)) else {
                continue;
            };
            out.push(Link {
                a: j,
                b: i,
                cosine: dot(va, v).min(1.0),
                simhash_distance: (a.simhash ^ sk.simhash).count_ones(),
            });
            if let Some(flag) = seen.get_mut(j) {
                *flag = false;
            }
        }
        touched.clear();
    }
    out
}

/// Whether a scored pair counts as the same matter under `config` (keys aside).
pub fn is_duplicate(link: &Link, config: &DedupConfig) -> bool {
    link.simhash_distance <= config.simhash_max_distance || link.cosine >= config.threshold
}

/// Groups a batch into matters.
pub fn cluster(items: &[DedupItem<'_>], config: &DedupConfig) -> Clustering {
    let texts: Vec<&str> = items.iter().map(|i| i.text).collect();
    let mut parent: Vec<usize> = (0..items.len()).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        let mut root = x;
        while let Some(&p) = parent.get(root) {
            if p == root {
                break;
            }
            root = p;
        }
        while let Some(&p) = parent.get(x) {
            if p == root {
                break;
            }
            if let Some(slot) = parent.get_mut(x) {
                *slot = root;
            }
            x = p;
        }
        root
    }
    let mut links = Vec::new();
    for link in candidate_pairs(&texts, config.max_chars) {
        let (Some(a), Some(b)) = (items.get(link.a), items.get(link.b)) else {
            continue;
        };
        if !is_duplicate(&link, config) || !keys_allow(a, b, config.window_days) {
            continue;
        }
        let (ra, rb) = (find(&mut parent, link.a), find(&mut parent, link.b));
        if ra != rb {
            // The smaller index becomes the root so groups are stable in input order.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            if let Some(p) = parent.get_mut(hi) {
                *p = lo;
            }
        }
        links.push(link);
    }
    let mut group_of = vec![usize::MAX; items.len()];
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut root_group: HashMap<usize, usize> = HashMap::new();
    for i in 0..items.len() {
        let r = find(&mut parent, i);
        let g = *root_group.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        if let Some(slot) = group_of.get_mut(i) {
            *slot = g;
        }
        if let Some(members) = groups.get_mut(g) {
            members.push(i);
        }
    }
    Clustering {
        group_of,
        groups,
        links,
    }
}

/// Precision and recall of a threshold on labelled pairs.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Calibration {
    pub threshold: f32,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub pairs: usize,
}

/// Scores labelled pairs one by one.
pub fn score_pairs(pairs: &[(&str, &str)], config: &DedupConfig) -> Vec<Link> {
    pairs
        .iter()
        .enumerate()
        .map(|(p, (a, b))| Link {
            a: 2 * p,
            b: 2 * p + 1,
            ..compare(a, b, config.max_chars)
        })
        .collect()
}

/// Precision, recall and F1 of `config` on scored pairs with their true labels.
pub fn measure(scored: &[(Link, bool)], config: &DedupConfig) -> Calibration {
    let (mut tp, mut fp, mut fnn) = (0usize, 0usize, 0usize);
    for (l, truth) in scored {
        match (is_duplicate(l, config), *truth) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fnn += 1,
            (false, false) => {}
        }
    }
    let precision = if tp + fp == 0 {
        1.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if tp + fnn == 0 {
        1.0
    } else {
        tp as f64 / (tp + fnn) as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Calibration {
        threshold: config.threshold,
        precision,
        recall,
        f1,
        pairs: scored.len(),
    }
}

/// The threshold (on a 0.01 grid) with the best F1 on scored pairs; ties go to the
/// higher threshold, since a wrong merge hides a resident's matter and a missed one
/// only costs an analyst a click.
pub fn calibrate(scored: &[(Link, bool)], base: &DedupConfig) -> Calibration {
    let mut best = measure(scored, base);
    for step in 5..=95 {
        let cfg = DedupConfig {
            threshold: step as f32 / 100.0,
            ..*base
        };
        let m = measure(scored, &cfg);
        if m.f1 >= best.f1 {
            best = m;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_have_close_simhash_and_high_cosine() {
        let a = "我家楼下烧烤摊每天晚上吵到两三点，油烟也大，反映好几次了没人管";
        let b = "我家楼下烧烤摊每天晚上吵到两三点，油烟也大，反映好几次了都没人管！";
        let c = "身份证丢了补办要带什么材料";
        let links = candidate_pairs(&[a, b, c], 2000);
        let ab = links.iter().find(|l| l.a == 0 && l.b == 1);
        let Some(ab) = ab else { panic!("no a-b link") };
        assert!(ab.simhash_distance <= 8, "{}", ab.simhash_distance);
        assert!(ab.cosine > 0.8, "{}", ab.cosine);
        assert!(links.iter().all(|l| l.b != 2 || l.cosine < 0.2));
    }

    #[test]
    fn keys_split_otherwise_identical_texts() {
        let t = "村口的路灯坏了一个月了";
        let items = [
            DedupItem {
                text: t,
                area: Some("v1"),
                day: Some(10),
            },
            DedupItem {
                text: t,
                area: Some("v1"),
                day: Some(12),
            },
            DedupItem {
                text: t,
                area: Some("v2"),
                day: Some(10),
            },
            DedupItem {
                text: t,
                area: Some("v1"),
                day: Some(30),
            },
        ];
        let c = cluster(&items, &DedupConfig::default());
        assert_eq!(c.groups, vec![vec![0, 1], vec![2], vec![3]]);
        assert_eq!(c.group_of, vec![0, 0, 1, 2]);
    }

    #[test]
    fn empty_and_tiny_texts_do_not_panic() {
        let items = [
            DedupItem::text(""),
            DedupItem::text("a"),
            DedupItem::text("吵"),
            DedupItem::text("吵"),
        ];
        let c = cluster(&items, &DedupConfig::default());
        assert_eq!(c.group_of.len(), 4);
        assert_eq!(c.group_of.get(2), c.group_of.get(3));
    }
}
