//! The classifier: one multinomial logistic-regression head per label kind over the
//! shared hashed feature space, trained by seeded SGD with L2, each head's confidence
//! calibrated by temperature scaling on a held-out split; and the versioned binary
//! model file (`Model::to_bytes` / `Model::from_bytes`).

use crate::corpus::Example;
use crate::error::TextError;
use crate::features::{FeatureConfig, Featurizer, Scratch, weigh_in_place};
use crate::labels::{Category, Department, LabelKind, Sentiment, Urgency};
use crate::rng::{SplitMix64, stratified_split};

/// The model file format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"MINYITXT";

/// Default confidence below which a prediction goes to the analysts' queue.
pub const DEFAULT_REVIEW_THRESHOLD: f32 = 0.5;

/// Training settings. `Default` is what the shipped model and the tests use.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Seeds shuffles and splits: the same seed and data give the same model bytes.
    pub seed: u64,
    /// Passes over the training data.
    pub epochs: usize,
    /// Initial SGD step size (on unit-length feature vectors).
    pub learning_rate: f32,
    /// L2 penalty per example.
    pub l2: f32,
    /// Share of each head's examples held out to fit the temperature.
    pub calibration_fraction: f64,
    /// After calibrating, refit each head on all its examples (keeping the temperature).
    pub refit_on_all: bool,
    /// Weigh examples inversely to their class frequency so small classes count.
    pub class_balance: bool,
    /// Stored in the model as the default review threshold.
    pub review_threshold: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 20_130_601,
            epochs: 20,
            learning_rate: 0.8,
            l2: 2e-5,
            calibration_fraction: 0.2,
            refit_on_all: true,
            class_balance: true,
            review_threshold: DEFAULT_REVIEW_THRESHOLD,
        }
    }
}

impl TrainConfig {
    fn validate(&self) -> Result<(), TextError> {
        let bad =
            |field: &'static str, reason: String| Err(TextError::InvalidConfig { field, reason });
        if self.epochs == 0 || self.epochs > 1_000 {
            return bad("epochs", format!("{} is outside 1..=1000", self.epochs));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate <= 100.0) {
            return bad(
                "learning_rate",
                format!("{} is outside (0, 100]", self.learning_rate),
            );
        }
        if !(self.l2 >= 0.0 && self.l2 < 1.0) {
            return bad("l2", format!("{} is outside [0, 1)", self.l2));
        }
        if !(0.0..0.9).contains(&self.calibration_fraction) {
            return bad(
                "calibration_fraction",
                format!("{} is outside [0, 0.9)", self.calibration_fraction),
            );
        }
        if !(0.0..=1.0).contains(&self.review_threshold) {
            return bad(
                "review_threshold",
                format!("{} is outside [0, 1]", self.review_threshold),
            );
        }
        Ok(())
    }
}

/// A borrowed sparse feature vector: (slot, weight) pairs.
type SparseRef<'a> = &'a [(u32, f32)];

/// One label kind's linear model.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    kind: LabelKind,
    classes: usize,
    /// Row-major by feature slot: the `classes` weights of a slot are adjacent, so
    /// scoring a sparse vector touches one short run per feature.
    weights: Vec<f32>,
    bias: Vec<f32>,
    temperature: f32,
    trained_on: usize,
}

impl Head {
    fn empty(kind: LabelKind, dim: usize) -> Head {
        let classes = kind.class_count();
        Head {
            kind,
            classes,
            weights: vec![0.0; dim * classes],
            bias: vec![0.0; classes],
            temperature: 1.0,
            trained_on: 0,
        }
    }

    /// The label kind this head predicts.
    pub fn kind(&self) -> LabelKind {
        self.kind
    }

    /// The fitted temperature (confidence = softmax(logits / temperature)).
    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    /// Examples the head was trained on (0 means it never saw data and always abstains).
    pub fn trained_on(&self) -> usize {
        self.trained_on
    }

    /// Raw scores for a weighted sparse vector, written into `out` (len = classes).
    fn logits(&self, x: &[(u32, f32)], out: &mut [f32]) {
        for (o, b) in out.iter_mut().zip(&self.bias) {
            *o = *b;
        }
        let k = self.classes;
        for &(slot, v) in x {
            let start = slot as usize * k;
            if let Some(row) = self.weights.get(start..start + k) {
                for (o, w) in out.iter_mut().zip(row) {
                    *o += w * v;
                }
            }
        }
    }
}

fn argmax(p: &[f32]) -> (usize, f32) {
    let mut best = (0usize, f32::NEG_INFINITY);
    for (i, &v) in p.iter().enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best
}

/// Softmax of `z * beta` in place, stable against large scores.
fn softmax_in_place(z: &mut [f32], beta: f32) {
    let max = z.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v * beta));
    let mut sum = 0.0f32;
    for v in z.iter_mut() {
        *v = (*v * beta - max).exp();
        sum += *v;
    }
    if sum > 0.0 && sum.is_finite() {
        for v in z.iter_mut() {
            *v /= sum;
        }
    }
}

/// Weight columns in one packed row: every head's class weights side by side.
const STRIDE: usize = 15 + 3 + 2 + 9;

/// One feature slot's packed row: its idf and all heads' weights as bfloat16, in
/// exactly one 64-byte cache line. Scoring is bound by memory misses, not arithmetic,
/// so one line per feature (instead of one per feature and head, in f32) is what makes
/// classification fast; bfloat16's 8-bit mantissa is far finer than the weights'
/// own uncertainty.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(64))]
struct Row {
    idf: f32,
    w: [u16; 30],
}

const EMPTY_ROW: Row = Row {
    idf: 0.0,
    w: [0; 30],
};
const NO_ROW: u32 = u32::MAX;

/// f32 → bfloat16 with round-to-nearest-even (weights are finite).
#[inline]
fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(0x7FFF + ((bits >> 16) & 1));
    (rounded >> 16) as u16
}

#[inline]
fn from_bf16(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// Where a head's class weights start in a packed row.
fn column_offset(kind: LabelKind) -> usize {
    match kind {
        LabelKind::Category => 0,
        LabelKind::Sentiment => 15,
        LabelKind::Urgency => 18,
        LabelKind::Department => 20,
    }
}

/// A trained model: feature settings, idf weights and the four heads.
#[derive(Clone, PartialEq)]
pub struct Model {
    features: FeatureConfig,
    /// One cache-line row per feature slot: idf, then all heads' weights.
    /// Row of each feature slot in `rows`, or `NO_ROW` for a slot no training text
    /// had: unseen features cost no row read, and the rows (a quarter of the slots)
    /// stay small enough to live in cache.
    index: Vec<u32>,
    rows: Vec<Row>,
    /// Head metadata; their training-time `weights` are emptied once packed.
    heads: Vec<Head>,
    review_threshold: f32,
    seed: u64,
    trained_on: usize,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct FileMeta {
    features: FeatureConfig,
    review_threshold: f32,
    seed: u64,
    trained_on: usize,
    crate_version: String,
    heads: Vec<FileHead>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct FileHead {
    kind: LabelKind,
    classes: Vec<String>,
    temperature: f32,
    bias: Vec<f32>,
    trained_on: usize,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// Reads little-endian values and names the offset when bytes run out.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], TextError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        match end.and_then(|e| self.bytes.get(self.pos..e)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(TextError::CorruptModel {
                offset: self.pos,
                reason: format!("file ends inside {what}"),
            }),
        }
    }
    fn u32(&mut self, what: &str) -> Result<u32, TextError> {
        let b = self.take(4, what)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }
    fn f32(&mut self, what: &str) -> Result<f32, TextError> {
        let at = self.pos;
        let v = f32::from_bits(self.u32(what)?);
        if v.is_finite() {
            Ok(v)
        } else {
            Err(TextError::CorruptModel {
                offset: at,
                reason: format!("non-finite number in {what}"),
            })
        }
    }
}

impl std::fmt::Debug for Model {
    // The packed weights are megabytes; a log line needs only the shape.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("features", &self.features)
            .field("heads", &self.heads)
            .field("review_threshold", &self.review_threshold)
            .field("seed", &self.seed)
            .field("trained_on", &self.trained_on)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// The feature settings the model was trained with.
    pub fn features(&self) -> FeatureConfig {
        self.features
    }

    /// The inverse document frequency of a feature slot (0 for slots never seen).
    pub fn idf(&self, slot: usize) -> f32 {
        self.row(slot).map_or(0.0, |r| r.idf)
    }

    #[inline]
    fn row(&self, slot: usize) -> Option<&Row> {
        let i = *self.index.get(slot)?;
        self.rows.get(i as usize)
    }

    /// Slots that have a row, ascending, with their rows.
    fn slot_rows(&self) -> impl Iterator<Item = (usize, &Row)> {
        self.index
            .iter()
            .enumerate()
            .filter_map(|(slot, &i)| self.rows.get(i as usize).map(|r| (slot, r)))
    }

    /// Builds a model, moving training-time head weights and the idf into the packed
    /// layout.
    fn assemble(
        features: FeatureConfig,
        idf: &[f32],
        mut heads: Vec<Head>,
        review_threshold: f32,
        seed: u64,
        trained_on: usize,
    ) -> Model {
        let dim = features.dim();
        let mut packed = vec![EMPTY_ROW; dim];
        for (row, &v) in packed.iter_mut().zip(idf) {
            row.idf = v;
        }
        for h in heads.iter_mut() {
            let o = column_offset(h.kind);
            for (row, w) in packed.iter_mut().zip(h.weights.chunks_exact(h.classes)) {
                if let Some(dst) = row.w.get_mut(o..o + h.classes) {
                    for (d, x) in dst.iter_mut().zip(w) {
                        *d = to_bf16(*x);
                    }
                }
            }
            h.weights = Vec::new();
        }
        let mut index = vec![NO_ROW; dim];
        let mut rows = Vec::new();
        for (slot, row) in packed.into_iter().enumerate() {
            if row != EMPTY_ROW
                && let Some(i) = index.get_mut(slot)
            {
                *i = rows.len() as u32;
                rows.push(row);
            }
        }
        rows.shrink_to_fit();
        Model {
            features,
            index,
            rows,
            heads,
            review_threshold,
            seed,
            trained_on,
        }
    }

    /// Scores all heads in one pass over raw (slot, count) features: `out` gets, per
    /// packed column, the dot product with the unit-length log-count × idf vector.
    fn score_all(&self, counts: &[(u32, f32)], gathered: &mut Vec<(u32, f32)>, out: &mut Vec<f32>) {
        // First pass reads only each row's idf: a short loop, so the CPU issues the
        // row loads (the cache misses) together instead of one per accumulate loop.
        gathered.clear();
        let mut norm = 0.0f32;
        for &(slot, c) in counts {
            let Some(&i) = self.index.get(slot as usize) else {
                continue;
            };
            let Some(row) = self.rows.get(i as usize) else {
                continue;
            };
            if row.idf == 0.0 {
                continue;
            }
            let w = (1.0 + c.ln()) * row.idf;
            norm += w * w;
            gathered.push((i, w));
        }
        // A fixed-size accumulator lets the compiler vectorise the bfloat16 widening.
        let mut acc = [0.0f32; 30];
        for &(i, w) in gathered.iter() {
            if let Some(row) = self.rows.get(i as usize) {
                for (a, x) in acc.iter_mut().zip(row.w.iter()) {
                    *a += w * from_bf16(*x);
                }
            }
        }
        let inv = if norm > 0.0 { 1.0 / norm.sqrt() } else { 0.0 };
        out.clear();
        out.extend(acc.iter().take(STRIDE).map(|a| a * inv));
    }

    /// Calibrated probabilities of one head from `score_all` output, into `probs`;
    /// returns (argmax, probability), or `None` for a head that never saw data.
    fn head_probs(
        &self,
        kind: LabelKind,
        scores: &[f32],
        probs: &mut Vec<f32>,
    ) -> Option<(usize, f32)> {
        let h = self.head(kind).filter(|h| h.trained_on > 0)?;
        let o = column_offset(kind);
        probs.clear();
        probs.extend(
            scores
                .get(o..o + h.classes)?
                .iter()
                .zip(&h.bias)
                .map(|(s, b)| s + b),
        );
        softmax_in_place(probs, 1.0 / h.temperature);
        Some(argmax(probs))
    }

    /// The head for one label kind.
    pub fn head(&self, kind: LabelKind) -> Option<&Head> {
        self.heads.iter().find(|h| h.kind == kind)
    }

    /// The default review threshold stored with the model.
    pub fn review_threshold(&self) -> f32 {
        self.review_threshold
    }

    /// The training seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Number of examples the model was trained on.
    pub fn trained_on(&self) -> usize {
        self.trained_on
    }

    /// Serialises to the versioned binary format (weights are written as f32 holding
    /// their bfloat16 values): magic `MINYITXT`, u32 format version,
    /// u32 length + JSON metadata, sparse idf (count, then slot/value pairs), per head
    /// the non-zero weight rows (count, then slot + one f32 per class), and an FNV-1a
    /// checksum of everything before it. All integers and floats little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let meta = FileMeta {
            features: self.features,
            review_threshold: self.review_threshold,
            seed: self.seed,
            trained_on: self.trained_on,
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            heads: self
                .heads
                .iter()
                .map(|h| FileHead {
                    kind: h.kind,
                    classes: h.kind.class_codes().into_iter().map(String::from).collect(),
                    temperature: h.temperature,
                    bias: h.bias.clone(),
                    trained_on: h.trained_on,
                })
                .collect(),
        };
        // Serialising plain data with string keys cannot fail.
        let json = serde_json::to_vec(&meta).unwrap_or_default();
        let mut out = Vec::with_capacity(1 << 20);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        let idf: Vec<(usize, f32)> = self
            .slot_rows()
            .filter(|(_, r)| r.idf != 0.0)
            .map(|(i, r)| (i, r.idf))
            .collect();
        out.extend_from_slice(&(idf.len() as u32).to_le_bytes());
        for (i, v) in idf {
            out.extend_from_slice(&(i as u32).to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
        }
        for h in &self.heads {
            let o = column_offset(h.kind);
            let rows: Vec<(usize, &[u16])> = self
                .slot_rows()
                .filter_map(|(slot, r)| Some((slot, r.w.get(o..o + h.classes)?)))
                .filter(|(_, r)| r.iter().any(|w| from_bf16(*w) != 0.0))
                .collect();
            out.extend_from_slice(&(rows.len() as u32).to_le_bytes());
            for (i, r) in rows {
                out.extend_from_slice(&(i as u32).to_le_bytes());
                for w in r {
                    out.extend_from_slice(&from_bf16(*w).to_le_bytes());
                }
            }
        }
        let sum = fnv1a(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Reads a model written by [`Model::to_bytes`]; a foreign file, another format
    /// version, a damaged or truncated file each give their own error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, TextError> {
        if bytes.len() < MAGIC.len() || bytes.get(..MAGIC.len()) != Some(MAGIC.as_slice()) {
            return Err(TextError::ForeignModel {
                reason: "missing the MINYITXT signature",
            });
        }
        let mut r = Reader {
            bytes,
            pos: MAGIC.len(),
        };
        let version = r.u32("the format version")?;
        if version != FORMAT_VERSION {
            return Err(TextError::UnsupportedModelVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if bytes.len() < 8 + 4 + 4 + 8 {
            return Err(TextError::CorruptModel {
                offset: bytes.len(),
                reason: "file too short".into(),
            });
        }
        let body_end = bytes.len() - 8;
        let mut sum_bytes = [0u8; 8];
        sum_bytes.copy_from_slice(bytes.get(body_end..).unwrap_or(&[0; 8]));
        if u64::from_le_bytes(sum_bytes) != fnv1a(bytes.get(..body_end).unwrap_or(&[])) {
            return Err(TextError::CorruptModel {
                offset: body_end,
                reason: "checksum mismatch".into(),
            });
        }
        let mut r = Reader {
            bytes: bytes.get(..body_end).unwrap_or(&[]),
            pos: r.pos,
        };
        let meta_len = r.u32("the metadata length")? as usize;
        let meta_at = r.pos;
        let meta: FileMeta =
            serde_json::from_slice(r.take(meta_len, "the metadata")?).map_err(|e| {
                TextError::CorruptModel {
                    offset: meta_at,
                    reason: format!("metadata: {e}"),
                }
            })?;
        meta.features
            .validate()
            .map_err(|e| TextError::CorruptModel {
                offset: meta_at,
                reason: format!("metadata: {e}"),
            })?;
        let dim = meta.features.dim();
        let mut idf = vec![0.0f32; dim];
        let n = r.u32("the idf count")? as usize;
        for _ in 0..n {
            let at = r.pos;
            let slot = r.u32("an idf entry")? as usize;
            let v = r.f32("an idf entry")?;
            match idf.get_mut(slot) {
                Some(x) => *x = v,
                None => {
                    return Err(TextError::CorruptModel {
                        offset: at,
                        reason: format!("idf slot {slot} out of range"),
                    });
                }
            }
        }
        let kinds: Vec<LabelKind> = meta.heads.iter().map(|h| h.kind).collect();
        if kinds != LabelKind::ALL {
            return Err(TextError::CorruptModel {
                offset: meta_at,
                reason: "heads are not category, sentiment, urgency, department".into(),
            });
        }
        let mut heads = Vec::with_capacity(meta.heads.len());
        for fh in meta.heads {
            let expected = fh.kind.class_codes();
            if fh.classes.len() != expected.len()
                || fh.classes.iter().zip(&expected).any(|(a, b)| a != b)
            {
                return Err(TextError::CorruptModel {
                    offset: meta_at,
                    reason: format!("{} classes differ from this build's labels", fh.kind.code()),
                });
            }
            let k = expected.len();
            if fh.bias.len() != k || !fh.bias.iter().all(|b| b.is_finite()) {
                return Err(TextError::CorruptModel {
                    offset: meta_at,
                    reason: format!("{} bias is malformed", fh.kind.code()),
                });
            }
            if !(fh.temperature.is_finite() && fh.temperature > 0.0) {
                return Err(TextError::CorruptModel {
                    offset: meta_at,
                    reason: format!("{} temperature is not positive", fh.kind.code()),
                });
            }
            let mut head = Head::empty(fh.kind, dim);
            head.bias = fh.bias;
            head.temperature = fh.temperature;
            head.trained_on = fh.trained_on;
            let rows = r.u32("a head's row count")? as usize;
            for _ in 0..rows {
                let at = r.pos;
                let slot = r.u32("a weight row")? as usize;
                let Some(row) = head.weights.get_mut(slot * k..slot * k + k) else {
                    return Err(TextError::CorruptModel {
                        offset: at,
                        reason: format!("weight slot {slot} out of range"),
                    });
                };
                for w in row.iter_mut() {
                    *w = r.f32("a weight row")?;
                }
            }
            heads.push(head);
        }
        if r.pos != body_end {
            return Err(TextError::CorruptModel {
                offset: r.pos,
                reason: "unexpected bytes after the last head".into(),
            });
        }
        if !(0.0..=1.0).contains(&meta.review_threshold) {
            return Err(TextError::CorruptModel {
                offset: meta_at,
                reason: "review threshold outside [0, 1]".into(),
            });
        }
        Ok(Model::assemble(
            meta.features,
            &idf,
            heads,
            meta.review_threshold,
            meta.seed,
            meta.trained_on,
        ))
    }
}

/// The label index of an example for a head, or `None` when it does not train that head.
pub(crate) fn label_of(e: &Example, kind: LabelKind) -> Option<usize> {
    match kind {
        LabelKind::Category => Some(e.category.index()),
        LabelKind::Sentiment => Some(e.sentiment.index()),
        LabelKind::Urgency => Some(e.urgency.index()),
        LabelKind::Department => match (e.category, e.department) {
            (Category::NonPolice, Some(d)) => Some(d.index()),
            _ => None,
        },
    }
}

/// Featurises examples: counts, idf from these documents, weighted unit vectors.
pub(crate) fn vectorize(
    featurizer: &Featurizer,
    examples: &[Example],
) -> (Vec<f32>, Vec<Vec<(u32, f32)>>) {
    let dim = featurizer.config().dim();
    let mut scratch = Scratch::new();
    let mut df = vec![0u32; dim];
    let mut docs = Vec::with_capacity(examples.len());
    for e in examples {
        featurizer.extract_counts(&e.text, &mut scratch);
        for &(slot, _) in &scratch.features {
            if let Some(d) = df.get_mut(slot as usize) {
                *d += 1;
            }
        }
        docs.push(scratch.features.clone());
    }
    let n = examples.len() as f32;
    let idf: Vec<f32> = df
        .iter()
        .map(|&d| {
            if d == 0 {
                0.0
            } else {
                ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0
            }
        })
        .collect();
    for d in docs.iter_mut() {
        weigh_in_place(d, &idf);
    }
    (idf, docs)
}

/// Trains all four heads on `examples`.
pub fn train(
    featurizer: &Featurizer,
    examples: &[Example],
    config: &TrainConfig,
) -> Result<Model, TextError> {
    config.validate()?;
    let distinct = {
        let mut seen = [false; 15];
        for e in examples {
            if let Some(s) = seen.get_mut(e.category.index()) {
                *s = true;
            }
        }
        seen.iter().filter(|s| **s).count()
    };
    if distinct < 2 {
        return Err(TextError::Training {
            reason: format!("need examples of at least 2 categories, got {distinct}"),
        });
    }
    let (idf, docs) = vectorize(featurizer, examples);
    let dim = featurizer.config().dim();
    let mut heads = Vec::with_capacity(4);
    for (h, kind) in LabelKind::ALL.into_iter().enumerate() {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for (e, d) in examples.iter().zip(&docs) {
            if let Some(y) = label_of(e, kind) {
                xs.push(d.as_slice());
                ys.push(y);
            }
        }
        let seed = config.seed.wrapping_add(h as u64 * 0x1000_0000_0000_0001);
        heads.push(fit_calibrated_head(kind, dim, &xs, &ys, config, seed));
    }
    Ok(Model::assemble(
        featurizer.config(),
        &idf,
        heads,
        config.review_threshold,
        config.seed,
        examples.len(),
    ))
}

fn fit_calibrated_head(
    kind: LabelKind,
    dim: usize,
    xs: &[&[(u32, f32)]],
    ys: &[usize],
    config: &TrainConfig,
    seed: u64,
) -> Head {
    let mut head = Head::empty(kind, dim);
    if xs.is_empty() {
        return head;
    }
    head.trained_on = xs.len();
    let (fit_idx, cal_idx) = if config.calibration_fraction > 0.0 && xs.len() >= 20 {
        stratified_split(ys, config.calibration_fraction, seed ^ 0xCA11)
    } else {
        ((0..xs.len()).collect(), Vec::new())
    };
    let pick = |idx: &[usize]| -> (Vec<SparseRef<'_>>, Vec<usize>) {
        idx.iter()
            .filter_map(|&i| Some((*xs.get(i)?, *ys.get(i)?)))
            .unzip()
    };
    let (fx, fy) = pick(&fit_idx);
    sgd(&mut head, &fx, &fy, config, seed);
    if !cal_idx.is_empty() {
        let (cx, cy) = pick(&cal_idx);
        head.temperature = fit_temperature(&head, &cx, &cy);
        if config.refit_on_all {
            let t = head.temperature;
            let n = head.trained_on;
            head = Head::empty(kind, dim);
            sgd(&mut head, xs, ys, config, seed);
            head.temperature = t;
            head.trained_on = n;
        }
    }
    head
}

/// Multinomial logistic regression by SGD. L2 shrinkage is applied through a running
/// scale factor (w = scale · v) so each step costs only the example's non-zeros.
fn sgd(head: &mut Head, xs: &[&[(u32, f32)]], ys: &[usize], config: &TrainConfig, seed: u64) {
    let k = head.classes;
    let n = xs.len();
    if n == 0 {
        return;
    }
    let mut counts = vec![0usize; k];
    for &y in ys {
        if let Some(c) = counts.get_mut(y) {
            *c += 1;
        }
    }
    let present = counts.iter().filter(|c| **c > 0).count().max(1);
    let class_weight: Vec<f32> = counts
        .iter()
        .map(|&c| {
            if !config.class_balance || c == 0 {
                1.0
            } else {
                (n as f32 / (present as f32 * c as f32)).clamp(0.2, 5.0)
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(seed);
    let mut scale = 1.0f32;
    let mut z = vec![0.0f32; k];
    let lambda = config.l2;
    for epoch in 0..config.epochs {
        rng.shuffle(&mut order);
        let eta = config.learning_rate / (1.0 + epoch as f32).sqrt();
        for &i in &order {
            let (Some(x), Some(&y)) = (xs.get(i), ys.get(i)) else {
                continue;
            };
            for (o, b) in z.iter_mut().zip(&head.bias) {
                *o = *b;
            }
            for &(slot, v) in x.iter() {
                let s = slot as usize * k;
                if let Some(row) = head.weights.get(s..s + k) {
                    for (o, w) in z.iter_mut().zip(row) {
                        *o += scale * w * v;
                    }
                }
            }
            softmax_in_place(&mut z, 1.0);
            let cw = class_weight.get(y).copied().unwrap_or(1.0);
            for (c, g) in z.iter_mut().enumerate() {
                *g = cw * (*g - if c == y { 1.0 } else { 0.0 });
            }
            scale *= 1.0 - eta * lambda;
            if scale < 1e-3 {
                for w in head.weights.iter_mut() {
                    *w *= scale;
                }
                scale = 1.0;
            }
            let step = eta / scale;
            for &(slot, v) in x.iter() {
                let s = slot as usize * k;
                if let Some(row) = head.weights.get_mut(s..s + k) {
                    for (w, g) in row.iter_mut().zip(&z) {
                        *w -= step * g * v;
                    }
                }
            }
            for (b, g) in head.bias.iter_mut().zip(&z) {
                *b -= eta * g;
            }
        }
    }
    if scale != 1.0 {
        for w in head.weights.iter_mut() {
            *w *= scale;
        }
    }
}

/// Fits the temperature minimising held-out negative log-likelihood. NLL is convex in
/// the inverse temperature, so a golden-section search on it finds the optimum.
fn fit_temperature(head: &Head, xs: &[&[(u32, f32)]], ys: &[usize]) -> f32 {
    let k = head.classes;
    let mut logits = Vec::with_capacity(xs.len() * k);
    let mut z = vec![0.0f32; k];
    for x in xs {
        head.logits(x, &mut z);
        logits.extend_from_slice(&z);
    }
    let nll = |beta: f64| -> f64 {
        let mut total = 0.0f64;
        for (row, &y) in logits.chunks_exact(k).zip(ys) {
            let max = row
                .iter()
                .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v) * beta));
            let lse = row
                .iter()
                .map(|&v| (f64::from(v) * beta - max).exp())
                .sum::<f64>()
                .ln()
                + max;
            total += lse - f64::from(row.get(y).copied().unwrap_or(0.0)) * beta;
        }
        total
    };
    let (mut lo, mut hi) = (0.05f64, 20.0f64);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    let mut a = hi - g * (hi - lo);
    let mut b = lo + g * (hi - lo);
    let (mut fa, mut fb) = (nll(a), nll(b));
    for _ in 0..60 {
        if fa < fb {
            hi = b;
            b = a;
            fb = fa;
            a = hi - g * (hi - lo);
            fa = nll(a);
        } else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + g * (hi - lo);
            fb = nll(b);
        }
    }
    (1.0 / ((lo + hi) / 2.0)) as f32
}

/// Why an input was not classified on its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputIssue {
    /// Nothing left after removing whitespace and control characters.
    Empty,
    /// No Chinese characters: the model only knows Chinese.
    NoChinese,
}

impl InputIssue {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            InputIssue::Empty => "empty",
            InputIssue::NoChinese => "no_chinese",
        }
    }
}

/// One classified text. `confidence` is the calibrated probability of `category`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Prediction {
    pub category: Category,
    pub sentiment: Sentiment,
    pub urgency: Urgency,
    /// Only for `non_police`.
    pub department: Option<Department>,
    pub confidence: f32,
    pub sentiment_confidence: f32,
    pub urgency_confidence: f32,
    pub department_confidence: Option<f32>,
    /// Below the review threshold: goes to the analysts' queue.
    pub needs_review: bool,
    /// Set when the text could not be classified on its content.
    pub issue: Option<InputIssue>,
    /// The text was longer than the model's length cap; only the start was read.
    pub truncated: bool,
}

impl Prediction {
    fn abstain(issue: InputIssue, truncated: bool) -> Prediction {
        Prediction {
            category: Category::Other,
            sentiment: Sentiment::Neutral,
            urgency: Urgency::Normal,
            department: None,
            confidence: 0.0,
            sentiment_confidence: 0.0,
            urgency_confidence: 0.0,
            department_confidence: None,
            needs_review: true,
            issue: Some(issue),
            truncated,
        }
    }
}

/// Buffers for one classifying thread: features plus per-head probabilities.
#[derive(Debug, Default, Clone)]
pub struct ClassifyScratch {
    features: Scratch,
    gathered: Vec<(u32, f32)>,
    scores: Vec<f32>,
    probs: Vec<f32>,
}

impl ClassifyScratch {
    /// Empty buffers.
    pub fn new() -> Self {
        ClassifyScratch::default()
    }
}

/// A model ready to classify: the model plus its featurizer (jieba loaded once).
#[derive(Debug)]
pub struct Classifier {
    model: Model,
    featurizer: Featurizer,
    review_threshold: f32,
}

impl Classifier {
    /// Builds the featurizer the model needs (loads jieba, about 0.1 s).
    pub fn new(model: Model) -> Result<Classifier, TextError> {
        let featurizer = Featurizer::new(model.features)?;
        Ok(Classifier {
            review_threshold: model.review_threshold,
            model,
            featurizer,
        })
    }

    /// Reads a model file and builds its featurizer.
    pub fn from_bytes(bytes: &[u8]) -> Result<Classifier, TextError> {
        Classifier::new(Model::from_bytes(bytes)?)
    }

    /// Reuses an existing featurizer; its settings must be the model's.
    pub fn with_featurizer(model: Model, featurizer: Featurizer) -> Result<Classifier, TextError> {
        if featurizer.config() != model.features {
            return Err(TextError::FeatureMismatch {
                model: format!("{:?}", model.features),
                featurizer: format!("{:?}", featurizer.config()),
            });
        }
        Ok(Classifier {
            review_threshold: model.review_threshold,
            model,
            featurizer,
        })
    }

    /// Splits back into model and featurizer.
    pub fn into_parts(self) -> (Model, Featurizer) {
        (self.model, self.featurizer)
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The featurizer (for sharing jieba with other work).
    pub fn featurizer(&self) -> &Featurizer {
        &self.featurizer
    }

    /// The confidence below which predictions are flagged `needs_review`.
    pub fn review_threshold(&self) -> f32 {
        self.review_threshold
    }

    /// Changes the review threshold (must be within [0, 1]).
    pub fn set_review_threshold(&mut self, threshold: f32) -> Result<(), TextError> {
        if !(0.0..=1.0).contains(&threshold) {
            return Err(TextError::InvalidConfig {
                field: "review_threshold",
                reason: format!("{threshold} is outside [0, 1]"),
            });
        }
        self.review_threshold = threshold;
        Ok(())
    }

    /// Classifies one text with fresh buffers; prefer [`Classifier::classify_with`] in loops.
    pub fn classify(&self, text: &str) -> Prediction {
        self.classify_with(text, &mut ClassifyScratch::new())
    }

    /// Classifies one text, reusing `scratch`. Never fails: empty and non-Chinese input
    /// come back as `other` with confidence 0, `needs_review` and an `issue` code.
    pub fn classify_with(&self, text: &str, scratch: &mut ClassifyScratch) -> Prediction {
        let stats = self.featurizer.extract_counts(text, &mut scratch.features);
        if stats.chars_kept == 0 {
            return Prediction::abstain(InputIssue::Empty, stats.truncated);
        }
        if stats.han == 0 {
            return Prediction::abstain(InputIssue::NoChinese, stats.truncated);
        }
        self.model.score_all(
            &scratch.features.features,
            &mut scratch.gathered,
            &mut scratch.scores,
        );
        let (scores, probs) = (&scratch.scores, &mut scratch.probs);
        let mut run = |kind: LabelKind| -> (usize, f32) {
            self.model
                .head_probs(kind, scores, probs)
                .unwrap_or((usize::MAX, 0.0))
        };
        let (c, cp) = run(LabelKind::Category);
        let (s, sp) = run(LabelKind::Sentiment);
        let (u, up) = run(LabelKind::Urgency);
        let category = Category::from_index(c).unwrap_or(Category::Other);
        let (department, department_confidence) = if category == Category::NonPolice {
            let (d, dp) = run(LabelKind::Department);
            (
                Some(Department::from_index(d).unwrap_or(Department::Other)),
                Some(dp),
            )
        } else {
            (None, None)
        };
        let needs_review = cp < self.review_threshold
            || department_confidence.is_some_and(|p| p < self.review_threshold);
        Prediction {
            category,
            sentiment: Sentiment::from_index(s).unwrap_or(Sentiment::Neutral),
            urgency: Urgency::from_index(u).unwrap_or(Urgency::Normal),
            department,
            confidence: cp,
            sentiment_confidence: sp,
            urgency_confidence: up,
            department_confidence,
            needs_review,
            issue: None,
            truncated: stats.truncated,
        }
    }

    /// Like [`Classifier::classify_with`] but rejects input it cannot read with an error.
    pub fn classify_strict(
        &self,
        text: &str,
        scratch: &mut ClassifyScratch,
    ) -> Result<Prediction, TextError> {
        let p = self.classify_with(text, scratch);
        match p.issue {
            Some(InputIssue::Empty) => Err(TextError::EmptyInput),
            Some(InputIssue::NoChinese) => Err(TextError::NoChinese {
                chars: scratch.features.normalized().chars().count(),
            }),
            None => Ok(p),
        }
    }

    /// Classifies many texts with one set of buffers.
    pub fn classify_batch<S: AsRef<str>>(&self, texts: &[S]) -> Vec<Prediction> {
        let mut scratch = ClassifyScratch::new();
        texts
            .iter()
            .map(|t| self.classify_with(t.as_ref(), &mut scratch))
            .collect()
    }

    /// Calibrated probabilities of every class of one head, in the head's class order
    /// (empty for empty or non-Chinese input, or an untrained head).
    pub fn probabilities(
        &self,
        kind: LabelKind,
        text: &str,
        scratch: &mut ClassifyScratch,
    ) -> Vec<f32> {
        let stats = self.featurizer.extract_counts(text, &mut scratch.features);
        if stats.han == 0 {
            return Vec::new();
        }
        self.model.score_all(
            &scratch.features.features,
            &mut scratch.gathered,
            &mut scratch.scores,
        );
        let mut p = Vec::new();
        match self.model.head_probs(kind, &scratch.scores, &mut p) {
            Some(_) => p,
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_survives_large_scores() {
        let mut z = vec![1000.0, 0.0, -1000.0];
        softmax_in_place(&mut z, 1.0);
        assert!((z.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(z.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn temperature_grows_when_logits_are_overconfident() {
        let mut head = Head::empty(LabelKind::Urgency, 1024);
        // Slot 1 votes hard for class 0, but half the examples are class 1.
        if let Some(w) = head.weights.get_mut(2) {
            *w = 10.0;
        }
        let x: &[(u32, f32)] = &[(1, 1.0)];
        let xs = vec![x; 10];
        let ys: Vec<usize> = (0..10).map(|i| i % 2).collect();
        let t = fit_temperature(&head, &xs, &ys);
        assert!(t > 5.0, "{t}");
    }

    #[test]
    fn bad_train_config_is_rejected() {
        let cfg = TrainConfig {
            epochs: 0,
            ..TrainConfig::default()
        };
        assert!(matches!(
            cfg.validate(),
            Err(TextError::InvalidConfig {
                field: "epochs",
                ..
            })
        ));
    }
}
