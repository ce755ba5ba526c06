//! `minyi text …` and `minyi model …`: thin file-handling wrappers over minyi-text —
//! training and saving the classification model, evaluating it on a held-out split,
//! and classifying a JSONL file line by line.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use minyi_text::{
    Category, Classifier, ClassifyScratch, EvalConfig, Evaluation, Example, FORMAT_VERSION,
    FeatureConfig, Featurizer, HeadReport, LabelKind, Model, Prediction, TrainConfig,
    builtin_corpus, evaluate, parse_jsonl, score, train,
};

#[derive(Subcommand)]
pub enum TextCommand {
    /// Classify a JSONL file: each line `{"text": …}` gets category, sentiment, urgency,
    /// department, confidence and needs_review added (other fields are kept).
    Classify {
        /// Input JSONL, one object with a string `text` per line.
        #[arg(long)]
        input: PathBuf,
        /// Output JSONL, one line per non-blank input line, in input order.
        #[arg(long)]
        output: PathBuf,
        /// A model file written by `minyi model train`; without it the built-in corpus is
        /// trained on at start.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Print throughput to stderr: texts/s counting classification only (model load,
        /// file reading and JSON handling excluded), and end to end.
        #[arg(long)]
        timing: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Train on the built-in corpus plus any extra labelled JSONL (analysts'
    /// corrections) and write a versioned model file.
    Train {
        /// Extra labelled JSONL: a file, or a directory whose *.jsonl files are all read.
        /// May be repeated.
        #[arg(long)]
        corpus: Vec<PathBuf>,
        /// Training seed (same seed and data give the same model bytes).
        #[arg(long)]
        seed: Option<u64>,
        /// Where to write the model.
        #[arg(long)]
        output: PathBuf,
    },
    /// Export the analysts' corrections (relabels in the analysis workspace) as labelled
    /// JSONL in the corpus format `train --corpus` reads, phone and ID numbers masked.
    /// Reads the database of --data-dir / --database-url.
    Corrections {
        /// Where to write the JSONL (written whole or not at all).
        #[arg(long)]
        output: PathBuf,
    },
    /// Held-out evaluation on the built-in corpus: per-class precision, recall, F1 and
    /// support per head, and the category confusion matrix.
    Eval {
        /// Score this model on the held-out part instead of training on the rest. A model
        /// trained on the whole corpus has seen the held-out part: its figures are optimistic.
        #[arg(long)]
        model: Option<PathBuf>,
        /// Seed of the held-out split.
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Also write the split as train.jsonl and test.jsonl into this directory (so a
        /// peer system can be trained and tested on exactly the same examples).
        #[arg(long)]
        export_split: Option<PathBuf>,
    },
}

pub fn run_text(cmd: &TextCommand) -> anyhow::Result<()> {
    match cmd {
        TextCommand::Classify {
            input,
            output,
            model,
            timing,
        } => classify_file(input, output, model.as_deref(), *timing),
    }
}

pub fn run_model(cmd: &ModelCommand) -> anyhow::Result<()> {
    match cmd {
        ModelCommand::Train {
            corpus,
            seed,
            output,
        } => train_to_file(corpus, *seed, output),
        ModelCommand::Eval {
            model,
            seed,
            format,
            export_split,
        } => eval(model.as_deref(), *seed, *format, export_split.as_deref()),
        ModelCommand::Corrections { .. } => {
            bail!("`minyi model corrections` reads the database and is run from main")
        }
    }
}

/// Reads a model file; any failure is one line naming the file.
fn load_classifier(path: &Path) -> anyhow::Result<Classifier> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read model file {}", path.display()))?;
    let model = Model::from_bytes(&bytes)
        .map_err(|e| anyhow::anyhow!("bad model file {}: {e}", path.display()))?;
    Classifier::new(model).map_err(|e| anyhow::anyhow!("bad model file {}: {e}", path.display()))
}

fn builtin() -> anyhow::Result<Vec<Example>> {
    builtin_corpus().map_err(|e| anyhow::anyhow!("built-in corpus: {e}"))
}

/// The *.jsonl files under `path` (sorted, so training is reproducible), or `path` itself.
fn corpus_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in
        std::fs::read_dir(path).with_context(|| format!("cannot list {}", path.display()))?
    {
        let p = entry
            .with_context(|| format!("cannot list {}", path.display()))?
            .path();
        if p.extension().is_some_and(|e| e == "jsonl") && p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("{}: no .jsonl files in this directory", path.display());
    }
    Ok(files)
}

fn train_to_file(corpus: &[PathBuf], seed: Option<u64>, output: &Path) -> anyhow::Result<()> {
    let mut examples = builtin()?;
    let builtin_count = examples.len();
    let mut extra_files = 0usize;
    for path in corpus {
        for file in corpus_files(path)? {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let mut more =
                parse_jsonl(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            examples.append(&mut more);
            extra_files += 1;
        }
    }
    let mut config = TrainConfig::default();
    if let Some(s) = seed {
        config.seed = s;
    }
    let featurizer = Featurizer::new(FeatureConfig::default())?;
    let started = Instant::now();
    let model = train(&featurizer, &examples, &config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let bytes = model.to_bytes();
    std::fs::write(output, &bytes).with_context(|| format!("cannot write {}", output.display()))?;
    emit(&format!(
        "trained on {} examples ({} built-in, {} from {} extra file(s)), seed {}, in {:.1} s\n\
         wrote {} ({} bytes, model format version {FORMAT_VERSION})\n",
        examples.len(),
        builtin_count,
        examples.len() - builtin_count,
        extra_files,
        config.seed,
        started.elapsed().as_secs_f64(),
        output.display(),
        bytes.len()
    ))
}

/// The library's held-out split, so a saved model is scored on the examples
/// `evaluate` holds out.
fn split(examples: &[Example], fraction: f64, seed: u64) -> (Vec<Example>, Vec<Example>) {
    minyi_text::held_out_split(examples, fraction, seed)
}

pub(crate) fn write_examples(path: &Path, examples: &[Example]) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = BufWriter::new(file);
    for e in examples {
        serde_json::to_writer(&mut w, e)?;
        w.write_all(b"\n")?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}

fn eval(
    model: Option<&Path>,
    seed: Option<u64>,
    format: Format,
    export_split: Option<&Path>,
) -> anyhow::Result<()> {
    let examples = builtin()?;
    let mut config = EvalConfig::default();
    if let Some(s) = seed {
        config.split_seed = s;
    }
    if let Some(dir) = export_split {
        let (train_set, test_set) = split(&examples, config.test_fraction, config.split_seed);
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        write_examples(&dir.join("train.jsonl"), &train_set)?;
        write_examples(&dir.join("test.jsonl"), &test_set)?;
    }
    let (evaluation, source) = match model {
        Some(path) => {
            let classifier = load_classifier(path)?;
            let (_, test_set) = split(&examples, config.test_fraction, config.split_seed);
            (
                score(&classifier, &test_set),
                format!(
                    "model {} (trained on {} examples; if they include the held-out part, the figures are optimistic)",
                    path.display(),
                    classifier.model().trained_on()
                ),
            )
        }
        None => {
            let featurizer = Featurizer::new(FeatureConfig::default())?;
            let (evaluation, _, _) =
                evaluate(featurizer, &examples, &config).map_err(|e| anyhow::anyhow!("{e}"))?;
            (
                evaluation,
                "trained on the split's training part".to_string(),
            )
        }
    };
    match format {
        Format::Json => {
            let out = serde_json::json!({
                "split_seed": config.split_seed,
                "test_fraction": config.test_fraction,
                "model": model.map(|p| p.display().to_string()),
                "evaluation": evaluation,
            });
            let mut text = serde_json::to_string_pretty(&out)?;
            text.push('\n');
            emit(&text)
        }
        Format::Text => emit(&render_eval(&evaluation, &config, &source)),
    }
}

fn render_head(out: &mut String, h: &HeadReport) {
    let width = h.classes.iter().map(|c| c.len()).max().unwrap_or(5).max(5);
    let _ = writeln!(
        out,
        "\n{}: accuracy {:.3}, macro F1 {:.3}, calibration error {:.3}, {} tested",
        h.kind.code(),
        h.accuracy,
        h.macro_f1,
        h.calibration_error,
        h.tested
    );
    let _ = writeln!(
        out,
        "  {:<width$}  {:>9}  {:>6}  {:>6}  {:>7}",
        "class", "precision", "recall", "F1", "support"
    );
    for m in &h.per_class {
        let _ = writeln!(
            out,
            "  {:<width$}  {:>9.3}  {:>6.3}  {:>6.3}  {:>7}",
            m.code, m.precision, m.recall, m.f1, m.support
        );
    }
}

fn render_eval(e: &Evaluation, config: &EvalConfig, source: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "held-out evaluation on the built-in corpus: {} for testing ({:.0}% of each category × department, split seed {}); {}",
        e.test_size,
        config.test_fraction * 100.0,
        config.split_seed,
        source
    );
    let _ = writeln!(out, "training examples: {}", e.train_size);
    let _ = writeln!(
        out,
        "review threshold {:.2}: {} of {} to the analysts' queue; category accuracy of the rest {:.3}",
        e.review_threshold, e.needs_review, e.test_size, e.accuracy_when_confident
    );
    for h in &e.heads {
        render_head(&mut out, h);
    }
    if let Some(h) = e.head(LabelKind::Category) {
        let _ = writeln!(
            out,
            "\ncategory confusion matrix (rows: true class, columns: predicted, numbered as the rows)"
        );
        let width = h.classes.iter().map(|c| c.len()).max().unwrap_or(5);
        let cell = h
            .confusion
            .iter()
            .flatten()
            .max()
            .map_or(1, |m| m.to_string().len())
            .max(h.classes.len().to_string().len());
        let _ = write!(out, "  {:>2} {:<width$} ", "", "");
        for j in 1..=h.classes.len() {
            let _ = write!(out, " {j:>cell$}");
        }
        out.push('\n');
        for (i, (class, row)) in h.classes.iter().zip(&h.confusion).enumerate() {
            let _ = write!(out, "  {:>2} {class:<width$} ", i + 1);
            for v in row {
                let _ = write!(out, " {v:>cell$}");
            }
            out.push('\n');
        }
    }
    out
}

/// Writes to stdout without panicking when the reader has gone (e.g. `| head`).
fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("cannot write to standard output")
}

/// What was wrong with an input line; written into the output line as `error`.
fn bad_line(line: usize, what: &str) -> String {
    format!("line {line}: {what}")
}

fn round4(v: f32) -> f64 {
    (f64::from(v) * 10_000.0).round() / 10_000.0
}

/// The fields added to each classified line, in a fixed order.
fn prediction_fields(p: &Prediction) -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::Value;
    let code = |v: serde_json::Result<Value>| v.unwrap_or(Value::Null);
    vec![
        ("category", code(serde_json::to_value(p.category))),
        ("sentiment", code(serde_json::to_value(p.sentiment))),
        ("urgency", code(serde_json::to_value(p.urgency))),
        ("department", code(serde_json::to_value(p.department))),
        ("confidence", Value::from(round4(p.confidence))),
        (
            "sentiment_confidence",
            Value::from(round4(p.sentiment_confidence)),
        ),
        (
            "urgency_confidence",
            Value::from(round4(p.urgency_confidence)),
        ),
        (
            "department_confidence",
            p.department_confidence
                .map_or(Value::Null, |c| Value::from(round4(c))),
        ),
        ("needs_review", Value::from(p.needs_review)),
        (
            "issue",
            p.issue.map_or(Value::Null, |i| Value::from(i.code())),
        ),
        ("truncated", Value::from(p.truncated)),
    ]
}

/// The output line for a classified input object. When the object has none of the
/// added keys, the fields are appended to the input text so the line keeps its own key
/// order and formatting; otherwise the added fields replace the input's.
fn classified_line(
    raw: &str,
    object: serde_json::Map<String, serde_json::Value>,
    p: &Prediction,
) -> anyhow::Result<String> {
    let fields = prediction_fields(p);
    let trimmed = raw.trim();
    let clash = fields.iter().any(|(k, _)| object.contains_key(*k));
    if let (false, Some(body)) = (clash, trimmed.strip_suffix('}')) {
        let mut out = String::with_capacity(raw.len() + 256);
        out.push_str(body.trim_end());
        for (k, v) in &fields {
            out.push(',');
            out.push_str(&serde_json::to_string(k)?);
            out.push(':');
            out.push_str(&serde_json::to_string(v)?);
        }
        out.push('}');
        return Ok(out);
    }
    let mut object = object;
    for (k, v) in fields {
        object.insert(k.to_string(), v);
    }
    Ok(serde_json::to_string(&object)?)
}

/// The output line for an input line that could not be classified.
fn error_line(
    object: Option<serde_json::Map<String, serde_json::Value>>,
    raw: &str,
    error: String,
) -> anyhow::Result<String> {
    let mut object = object.unwrap_or_else(|| {
        let mut m = serde_json::Map::new();
        m.insert("raw".into(), serde_json::Value::from(raw));
        m
    });
    object.insert("error".into(), serde_json::Value::from(error));
    Ok(serde_json::to_string(&object)?)
}

fn classify_file(
    input: &Path,
    output: &Path,
    model: Option<&Path>,
    timing: bool,
) -> anyhow::Result<()> {
    let reader = File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    // Creating the output would empty the input before it is read.
    if let (Ok(a), Ok(b)) = (input.canonicalize(), output.canonicalize())
        && a == b
    {
        bail!("--output {} is the input file", output.display());
    }
    let classifier = match model {
        Some(path) => load_classifier(path)?,
        None => {
            eprintln!("no --model given: training on the built-in corpus first");
            let featurizer = Featurizer::new(FeatureConfig::default())?;
            let model = train(&featurizer, &builtin()?, &TrainConfig::default())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            Classifier::with_featurizer(model, featurizer).map_err(|e| anyhow::anyhow!("{e}"))?
        }
    };
    let writer =
        File::create(output).with_context(|| format!("cannot create {}", output.display()))?;
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut writer = BufWriter::with_capacity(1 << 16, writer);
    let write_err = |e: std::io::Error| anyhow::anyhow!("cannot write {}: {e}", output.display());

    let started = Instant::now();
    let mut classifying = Duration::ZERO;
    let mut scratch = ClassifyScratch::new();
    let mut buf = Vec::new();
    let (mut line_no, mut classified, mut bad, mut blank, mut review) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut first_bad: Option<String> = None;
    let mut by_category = vec![0usize; Category::ALL.len()];
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("cannot read {}", input.display()))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let raw = String::from_utf8_lossy(&buf);
        let raw = raw.trim_end_matches(['\n', '\r']);
        // Editors on Windows start files with a byte-order mark.
        let raw = if line_no == 1 {
            raw.trim_start_matches('\u{feff}')
        } else {
            raw
        };
        if raw.trim().is_empty() {
            blank += 1;
            continue;
        }
        let parsed: Result<serde_json::Value, _> = match std::str::from_utf8(&buf) {
            Ok(_) => serde_json::from_str(raw),
            Err(_) => {
                let out = error_line(None, raw, bad_line(line_no, "not valid UTF-8"))?;
                bad += 1;
                first_bad.get_or_insert_with(|| bad_line(line_no, "not valid UTF-8"));
                writer.write_all(out.as_bytes()).map_err(write_err)?;
                writer.write_all(b"\n").map_err(write_err)?;
                continue;
            }
        };
        let line = match parsed {
            Err(e) => {
                // serde_json's "at line 1" would be confused with the file's line number.
                let msg = e.to_string();
                let msg = msg
                    .split(" at line ")
                    .next()
                    .unwrap_or("syntax error")
                    .to_string();
                Err((
                    None,
                    format!("not valid JSON ({msg}, column {})", e.column()),
                ))
            }
            Ok(serde_json::Value::Object(object)) => match object.get("text") {
                None => Err((Some(object), "no \"text\" field".to_string())),
                Some(serde_json::Value::String(text)) => {
                    let t0 = Instant::now();
                    let p = classifier.classify_with(text, &mut scratch);
                    classifying += t0.elapsed();
                    classified += 1;
                    review += usize::from(p.needs_review);
                    if let Some(c) = by_category.get_mut(p.category.index()) {
                        *c += 1;
                    }
                    Ok(classified_line(raw, object, &p)?)
                }
                Some(other) => {
                    let kind = match other {
                        serde_json::Value::Null => "null",
                        serde_json::Value::Bool(_) => "a boolean",
                        serde_json::Value::Number(_) => "a number",
                        serde_json::Value::Array(_) => "an array",
                        _ => "an object",
                    };
                    Err((Some(object), format!("\"text\" is {kind}, not a string")))
                }
            },
            Ok(_) => Err((None, "not a JSON object".to_string())),
        };
        let out = match line {
            Ok(out) => out,
            Err((object, what)) => {
                bad += 1;
                let message = bad_line(line_no, &what);
                first_bad.get_or_insert_with(|| message.clone());
                error_line(object, raw, message)?
            }
        };
        writer.write_all(out.as_bytes()).map_err(write_err)?;
        writer.write_all(b"\n").map_err(write_err)?;
    }
    writer.flush().map_err(write_err)?;
    let total = started.elapsed();
    eprintln!(
        "classified {classified} text(s) from {} into {}; {review} need review",
        input.display(),
        output.display()
    );
    let counts: Vec<String> = Category::ALL
        .iter()
        .zip(&by_category)
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| format!("{} {n}", c.code()))
        .collect();
    if !counts.is_empty() {
        eprintln!("categories: {}", counts.join(", "));
    }
    if bad > 0 {
        eprintln!(
            "{bad} bad line(s) written with an \"error\" field; first: {}",
            first_bad.unwrap_or_default()
        );
    }
    if blank > 0 {
        eprintln!("{blank} blank line(s) skipped");
    }
    if timing {
        let per_sec = |d: Duration| {
            if d.is_zero() {
                0.0
            } else {
                classified as f64 / d.as_secs_f64()
            }
        };
        eprintln!(
            "timing: {classified} texts classified in {:.3} s: {:.0} texts/s classification only; {:.0} texts/s end to end (model load excluded)",
            classifying.as_secs_f64(),
            per_sec(classifying),
            per_sec(total)
        );
    }
    Ok(())
}
