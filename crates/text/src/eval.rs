//! Held-out evaluation: a seeded stratified split, training on the rest, and per-head
//! per-class precision, recall, F1, the confusion matrix, calibration error and how
//! much goes to review at the threshold. This is what `minyi model eval` prints.

use crate::corpus::Example;
use crate::error::TextError;
use crate::features::Featurizer;
use crate::labels::{Category, LabelKind};
use crate::model::{Classifier, ClassifyScratch, Model, TrainConfig, label_of, train};
use crate::rng::stratified_split;

/// Evaluation settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EvalConfig {
    /// Share of each category (and department) held out for testing.
    pub test_fraction: f64,
    /// Seeds the split (training uses `train.seed`).
    pub split_seed: u64,
    pub train: TrainConfig,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            test_fraction: 0.2,
            split_seed: 96_995,
            train: TrainConfig::default(),
        }
    }
}

/// Figures for one class.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassMetrics {
    pub code: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Test examples whose true label is this class.
    pub support: usize,
}

/// Figures for one head.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeadReport {
    pub kind: LabelKind,
    pub classes: Vec<String>,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[true][predicted]`, in `classes` order.
    pub confusion: Vec<Vec<usize>>,
    pub accuracy: f64,
    /// Mean F1 over classes with test support.
    pub macro_f1: f64,
    /// Expected calibration error over 10 equal-width confidence bins.
    pub calibration_error: f64,
    pub tested: usize,
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evaluation {
    pub train_size: usize,
    pub test_size: usize,
    pub review_threshold: f32,
    /// Test texts whose prediction would go to review.
    pub needs_review: usize,
    /// Category accuracy on the texts that would not go to review.
    pub accuracy_when_confident: f64,
    pub heads: Vec<HeadReport>,
}

impl Evaluation {
    /// The report for one head.
    pub fn head(&self, kind: LabelKind) -> Option<&HeadReport> {
        self.heads.iter().find(|h| h.kind == kind)
    }
}

/// Builds a head report from (true, predicted, confidence) triples.
pub fn head_report(kind: LabelKind, outcomes: &[(usize, usize, f32)]) -> HeadReport {
    let classes: Vec<String> = kind.class_codes().into_iter().map(String::from).collect();
    let k = classes.len();
    let mut confusion = vec![vec![0usize; k]; k];
    let mut correct = 0usize;
    let mut bins = [(0usize, 0.0f64, 0usize); 10];
    for &(t, p, conf) in outcomes {
        if let Some(cell) = confusion.get_mut(t).and_then(|r| r.get_mut(p)) {
            *cell += 1;
        }
        let hit = t == p;
        correct += usize::from(hit);
        let b = ((f64::from(conf) * 10.0) as usize).min(9);
        if let Some(bin) = bins.get_mut(b) {
            bin.0 += 1;
            bin.1 += f64::from(conf);
            bin.2 += usize::from(hit);
        }
    }
    let n = outcomes.len();
    let mut per_class = Vec::with_capacity(k);
    let mut f1_sum = 0.0;
    let mut f1_n = 0usize;
    for (c, code) in classes.iter().enumerate() {
        let tp = confusion
            .get(c)
            .and_then(|r| r.get(c))
            .copied()
            .unwrap_or(0);
        let support: usize = confusion.get(c).map_or(0, |r| r.iter().sum());
        let predicted: usize = confusion
            .iter()
            .map(|r| r.get(c).copied().unwrap_or(0))
            .sum();
        let precision = if predicted == 0 {
            0.0
        } else {
            tp as f64 / predicted as f64
        };
        let recall = if support == 0 {
            0.0
        } else {
            tp as f64 / support as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        if support > 0 {
            f1_sum += f1;
            f1_n += 1;
        }
        per_class.push(ClassMetrics {
            code: code.clone(),
            precision,
            recall,
            f1,
            support,
        });
    }
    let calibration_error = if n == 0 {
        0.0
    } else {
        bins.iter()
            .filter(|b| b.0 > 0)
            .map(|&(cnt, conf, hits)| {
                (cnt as f64 / n as f64) * (conf / cnt as f64 - hits as f64 / cnt as f64).abs()
            })
            .sum()
    };
    HeadReport {
        kind,
        classes,
        per_class,
        confusion,
        accuracy: if n == 0 {
            0.0
        } else {
            correct as f64 / n as f64
        },
        macro_f1: if f1_n == 0 { 0.0 } else { f1_sum / f1_n as f64 },
        calibration_error,
        tested: n,
    }
}

/// Scores a trained classifier on labelled examples.
pub fn score(classifier: &Classifier, test: &[Example]) -> Evaluation {
    let mut scratch = ClassifyScratch::new();
    let mut outcomes: [Vec<(usize, usize, f32)>; 4] = Default::default();
    let mut needs_review = 0usize;
    let mut confident = 0usize;
    let mut confident_right = 0usize;
    for e in test {
        let p = classifier.classify_with(&e.text, &mut scratch);
        let c = (p.category.index(), p.confidence);
        let s = (p.sentiment.index(), p.sentiment_confidence);
        let u = (p.urgency.index(), p.urgency_confidence);
        if p.needs_review {
            needs_review += 1;
        } else {
            confident += 1;
            confident_right += usize::from(p.category == e.category);
        }
        for (slot, kind, got) in [
            (0, LabelKind::Category, c),
            (1, LabelKind::Sentiment, s),
            (2, LabelKind::Urgency, u),
        ] {
            if let (Some(t), Some(o)) = (label_of(e, kind), outcomes.get_mut(slot)) {
                o.push((t, got.0, got.1));
            }
        }
        // The department head is judged on its own, given the true category is non-police.
        if let Some(t) = label_of(e, LabelKind::Department) {
            let probs = classifier.probabilities(LabelKind::Department, &e.text, &mut scratch);
            let (best, conf) =
                probs
                    .iter()
                    .copied()
                    .enumerate()
                    .fold(
                        (usize::MAX, 0.0f32),
                        |b, (i, v)| if v > b.1 { (i, v) } else { b },
                    );
            if let Some(o) = outcomes.get_mut(3) {
                o.push((t, best, conf));
            }
        }
    }
    let heads = LabelKind::ALL
        .iter()
        .zip(outcomes.iter())
        .map(|(k, o)| head_report(*k, o))
        .collect();
    Evaluation {
        train_size: classifier.model().trained_on(),
        test_size: test.len(),
        review_threshold: classifier.review_threshold(),
        needs_review,
        accuracy_when_confident: if confident == 0 {
            0.0
        } else {
            confident_right as f64 / confident as f64
        },
        heads,
    }
}

/// Splits `examples` by category and department (stratified, seeded), trains on one part and scores
/// the other. Returns the evaluation and the model trained on the training part.
pub fn evaluate(
    featurizer: Featurizer,
    examples: &[Example],
    config: &EvalConfig,
) -> Result<(Evaluation, Model, Featurizer), TextError> {
    if !(0.05..=0.5).contains(&config.test_fraction) {
        return Err(TextError::InvalidConfig {
            field: "test_fraction",
            reason: format!("{} is outside [0.05, 0.5]", config.test_fraction),
        });
    }
    let (train_set, test_set) = held_out_split(examples, config.test_fraction, config.split_seed);
    if test_set.is_empty() {
        return Err(TextError::Training {
            reason: "too few examples to hold any out".into(),
        });
    }
    let model = train(&featurizer, &train_set, &config.train)?;
    let classifier = Classifier::with_featurizer(model, featurizer)?;
    let evaluation = score(&classifier, &test_set);
    let (model, featurizer) = classifier.into_parts();
    Ok((evaluation, model, featurizer))
}

/// Category counts of a set of examples, in category order (for reports).
pub fn category_counts(examples: &[Example]) -> Vec<(Category, usize)> {
    Category::ALL
        .iter()
        .map(|&c| (c, examples.iter().filter(|e| e.category == c).count()))
        .collect()
}

/// The split `evaluate` uses: (training, held out), stratified by category ×
/// department so every department is tested too, shuffled by `seed`. Public so a saved
/// model can be scored on exactly the examples `evaluate` holds out.
pub fn held_out_split(
    examples: &[Example],
    fraction: f64,
    seed: u64,
) -> (Vec<Example>, Vec<Example>) {
    let labels: Vec<usize> = examples
        .iter()
        .map(|e| e.category.index() * 16 + e.department.map_or(0, |d| d.index() + 1))
        .collect();
    let (train_idx, test_idx) = stratified_split(&labels, fraction, seed);
    let pick = |idx: &[usize]| {
        idx.iter()
            .filter_map(|&i| examples.get(i).cloned())
            .collect()
    };
    (pick(&train_idx), pick(&test_idx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_counts_precision_recall_and_confusion() {
        // true urgent(0) x3: predicted 0,0,1; true normal(1) x2: predicted 1,0
        let o = [
            (0, 0, 0.9),
            (0, 0, 0.8),
            (0, 1, 0.6),
            (1, 1, 0.7),
            (1, 0, 0.55),
        ];
        let r = head_report(LabelKind::Urgency, &o);
        assert_eq!(r.confusion, vec![vec![2, 1], vec![1, 1]]);
        let urgent = &r.per_class[0];
        assert!((urgent.precision - 2.0 / 3.0).abs() < 1e-9);
        assert!((urgent.recall - 2.0 / 3.0).abs() < 1e-9);
        assert!((r.accuracy - 0.6).abs() < 1e-9);
        assert_eq!(r.tested, 5);
        assert!(r.calibration_error > 0.0);
    }
}
