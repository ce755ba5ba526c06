//! `minyi stats …`: analysts' front door to minyi-stats on any CSV file — design-based
//! estimates (`estimate`), Fay–Herriot shrinkage (`fh`) and rank uncertainty (`ranks`).
//!
//! This module only reads and validates the file, maps labels to the numeric inputs
//! the library wants and prints the result; every number comes from minyi-stats. Bad
//! input stops with one line naming the file, row, line and column, because analysts
//! fix files by hand. The JSON shapes are documented in docs/stats-cli.md.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use minyi_stats::InputError;
use minyi_stats::intervals::{CiNote, PropCiMethod, recommended_method};
use minyi_stats::ranks::{RankDistribution, RankInterval, RankMethod};
use minyi_stats::survey::{Design, DesignSpec, LonelyPsu, MeanEstimate};
use serde::Serialize;

#[derive(Subcommand)]
pub enum StatsCommand {
    /// Design-based mean or proportion with standard error, interval and design
    /// effect, overall and per group.
    Estimate(EstimateArgs),
    /// Fay–Herriot EBLUP (REML) with MSE per area from an area-level file.
    Fh(FhArgs),
    /// Rank probabilities, expected ranks, rank intervals and rank confidence sets
    /// from estimates and standard errors.
    Ranks(RanksArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Json,
    Text,
    /// One CSV row per group (estimate only): feeds `minyi stats ranks`.
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PropCi {
    Wilson,
    ClopperPearson,
    Jeffreys,
    KornGraubard,
    Logit,
}

impl From<PropCi> for PropCiMethod {
    fn from(p: PropCi) -> Self {
        match p {
            PropCi::Wilson => PropCiMethod::Wilson,
            PropCi::ClopperPearson => PropCiMethod::ClopperPearson,
            PropCi::Jeffreys => PropCiMethod::Jeffreys,
            PropCi::KornGraubard => PropCiMethod::KornGraubard,
            PropCi::Logit => PropCiMethod::Logit,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Lonely {
    Fail,
    Certainty,
    Adjust,
    Average,
}

impl From<Lonely> for LonelyPsu {
    fn from(l: Lonely) -> Self {
        match l {
            Lonely::Fail => LonelyPsu::Fail,
            Lonely::Certainty => LonelyPsu::Certainty,
            Lonely::Adjust => LonelyPsu::Adjust,
            Lonely::Average => LonelyPsu::Average,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Method {
    Simulate,
    Exact,
}

#[derive(Args)]
pub struct EstimateArgs {
    /// Survey CSV with a header row.
    #[arg(long)]
    input: PathBuf,
    /// Column to estimate: 0/1 gives a proportion, anything else a mean. Blank or NA
    /// cells are missing answers and are left out (R's na.rm = TRUE).
    #[arg(long)]
    var: String,
    /// Stratum column.
    #[arg(long)]
    strata: Option<String>,
    /// Cluster (primary sampling unit) column; labels may repeat across strata.
    #[arg(long)]
    cluster: Option<String>,
    /// Design weight column (strictly positive); without it every row weighs 1.
    #[arg(long)]
    weight: Option<String>,
    /// Column with the population number of PSUs in the row's stratum.
    #[arg(long)]
    fpc: Option<String>,
    /// Group (domain) column: one estimate per group besides the overall one.
    #[arg(long)]
    by: Option<String>,
    /// Interval for proportions (default: wilson for an unweighted simple random
    /// sample, logit otherwise).
    #[arg(long, value_enum)]
    prop_ci: Option<PropCi>,
    /// What to do with a stratum holding a single PSU (R's survey.lonely.psu).
    #[arg(long, value_enum, default_value = "fail")]
    lonely_psu: Lonely,
    #[arg(long, default_value_t = 0.95)]
    level: f64,
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
}

#[derive(Args)]
pub struct FhArgs {
    /// Area-level CSV with a header row.
    #[arg(long)]
    input: PathBuf,
    /// Column with the direct estimate.
    #[arg(long)]
    direct: String,
    /// Column with the sampling variance of the direct estimate (> 0).
    #[arg(long)]
    variance: String,
    /// Covariate columns, comma-separated; an intercept is always included.
    #[arg(long, value_delimiter = ',')]
    covariates: Vec<String>,
    /// Area label column (default: the row number).
    #[arg(long)]
    area: Option<String>,
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
}

#[derive(Args)]
pub struct RanksArgs {
    /// CSV with one row per unit and a header row.
    #[arg(long)]
    input: PathBuf,
    /// Column with the estimate.
    #[arg(long)]
    estimate: String,
    /// Column with its standard error (≥ 0).
    #[arg(long)]
    se: String,
    /// Unit label column (default: the row number).
    #[arg(long)]
    unit: Option<String>,
    /// Monte Carlo draws for --method simulate.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    draws: u64,
    /// Seed for --method simulate; the same seed gives the same report everywhere.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// k for P(rank ≤ k), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "6")]
    top: Vec<usize>,
    /// k for P(among the last k), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,3")]
    bottom: Vec<usize>,
    #[arg(long, value_enum, default_value = "simulate")]
    method: Method,
    /// Rank 1 is the lowest estimate instead of the highest.
    #[arg(long)]
    lower_is_better: bool,
    /// Level of rank intervals and rank confidence sets.
    #[arg(long, default_value_t = 0.95)]
    level: f64,
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
}

pub fn run(cmd: &StatsCommand) -> anyhow::Result<()> {
    let out = match cmd {
        StatsCommand::Estimate(a) => estimate(a)?,
        StatsCommand::Fh(a) => fh(a)?,
        StatsCommand::Ranks(a) => ranks(a)?,
    };
    print!("{out}");
    Ok(())
}

// ---------------------------------------------------------------------------------
// Reading the CSV

/// Where a value came from, for error messages.
#[derive(Clone, Copy)]
struct Loc {
    /// 1-based data row (the header is not counted).
    row: u64,
    /// 1-based line in the file.
    line: u64,
}

/// A streaming CSV reader that knows its column names.
struct Table {
    path: String,
    reader: csv::Reader<std::fs::File>,
    headers: Vec<String>,
    record: csv::StringRecord,
    row: u64,
}

impl Table {
    fn open(path: &Path) -> anyhow::Result<Table> {
        let shown = path.display().to_string();
        let reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_path(path)
            .with_context(|| format!("cannot read {shown}"))?;
        let mut t = Table {
            path: shown,
            reader,
            headers: Vec::new(),
            record: csv::StringRecord::new(),
            row: 0,
        };
        t.headers = t
            .reader
            .headers()
            .map_err(|e| anyhow!("{}: {}", t.path, one_line(&e.to_string())))?
            .iter()
            .map(str::to_owned)
            .collect();
        Ok(t)
    }

    /// Index of a column named on the command line.
    fn column(&self, name: &str, flag: &str) -> anyhow::Result<usize> {
        self.headers.iter().position(|h| h == name).ok_or_else(|| {
            anyhow!(
                "{}: unknown column `{name}` (given to {flag}); the columns are: {}",
                self.path,
                self.headers.join(", ")
            )
        })
    }

    /// Advance to the next data row; false at the end.
    fn next(&mut self) -> anyhow::Result<bool> {
        match self.reader.read_record(&mut self.record) {
            Ok(more) => {
                if more {
                    self.row += 1;
                }
                Ok(more)
            }
            Err(e) => match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    pos,
                    expected_len,
                    len,
                } => bail!(
                    "{}: row {} (line {}): found {len} fields, but the header has {expected_len}",
                    self.path,
                    self.row + 1,
                    pos.as_ref().map_or(self.row + 2, csv::Position::line)
                ),
                _ => bail!("{}: {}", self.path, one_line(&e.to_string())),
            },
        }
    }

    fn loc(&self) -> Loc {
        Loc {
            row: self.row,
            line: self
                .record
                .position()
                .map_or(self.row + 1, csv::Position::line),
        }
    }

    fn field(&self, idx: usize) -> &str {
        self.record.get(idx).unwrap_or("")
    }

    fn fail(&self, loc: Loc, col: usize, problem: &str) -> anyhow::Error {
        fail_at(&self.path, loc, self.name(col), problem)
    }

    fn name(&self, col: usize) -> &str {
        self.headers.get(col).map_or("?", String::as_str)
    }

    /// A number that must be present.
    fn number(&self, col: usize) -> anyhow::Result<f64> {
        match self.optional_number(col)? {
            Some(v) => Ok(v),
            None => Err(self.fail(self.loc(), col, "value is missing")),
        }
    }

    /// A number, or `None` for a blank or NA cell.
    fn optional_number(&self, col: usize) -> anyhow::Result<Option<f64>> {
        let s = self.field(col);
        if is_missing(s) {
            return Ok(None);
        }
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            Ok(_) => Err(self.fail(self.loc(), col, &format!("`{s}` is not a finite number"))),
            Err(_) => Err(self.fail(self.loc(), col, &format!("`{s}` is not a number"))),
        }
    }

    /// A label that must be present.
    fn label(&self, col: usize) -> anyhow::Result<&str> {
        let s = self.field(col);
        if is_missing(s) {
            Err(self.fail(self.loc(), col, "value is missing"))
        } else {
            Ok(s)
        }
    }
}

fn fail_at(path: &str, loc: Loc, column: &str, problem: &str) -> anyhow::Error {
    anyhow!(
        "{path}: row {} (line {}), column `{column}`: {problem}",
        loc.row,
        loc.line
    )
}

/// Blank, `NA` (R's write.csv) and `.` (SAS, Stata) mean "no answer".
fn is_missing(s: &str) -> bool {
    s.is_empty() || s == "NA" || s == "."
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Labels in first-seen order, with a natural (numeric where possible) sort for output.
#[derive(Default)]
struct Labels {
    ids: HashMap<String, usize>,
    names: Vec<String>,
}

impl Labels {
    fn id(&mut self, s: &str) -> usize {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.names.len();
        self.ids.insert(s.to_owned(), i);
        self.names.push(s.to_owned());
        i
    }

    fn name(&self, id: usize) -> &str {
        self.names.get(id).map_or("?", String::as_str)
    }

    /// Ids in output order: numerically when every label is a number, else by text.
    fn sorted(&self) -> Vec<usize> {
        let mut ids: Vec<usize> = (0..self.names.len()).collect();
        let nums: Option<Vec<f64>> = self.names.iter().map(|s| s.parse().ok()).collect();
        match nums {
            Some(v) => ids.sort_by(|&a, &b| {
                let (x, y) = (v.get(a).copied(), v.get(b).copied());
                x.unwrap_or(0.0).total_cmp(&y.unwrap_or(0.0))
            }),
            None => ids.sort_by(|&a, &b| self.name(a).cmp(self.name(b))),
        }
        ids
    }
}

/// Remembers each label's first row so a repeat can be reported.
fn unique_label(
    seen: &mut HashMap<String, u64>,
    t: &Table,
    col: usize,
    label: &str,
) -> anyhow::Result<()> {
    if let Some(first) = seen.insert(label.to_owned(), t.row) {
        return Err(t.fail(
            t.loc(),
            col,
            &format!("`{label}` repeats the label of row {first}"),
        ));
    }
    Ok(())
}

/// A library error, told in the analyst's terms: rows instead of 0-based positions.
fn explain(
    path: &str,
    e: InputError,
    locs: &[Loc],
    column: impl Fn(&str) -> String,
) -> anyhow::Error {
    let at = |index: usize, problem: &str, name: &str| match locs.get(index) {
        Some(&loc) => fail_at(path, loc, &column(name), problem),
        None => anyhow!("{path}: {e} ({})", e.code()),
    };
    match &e {
        InputError::NotFinite { name, index } => at(*index, "is not a finite number", name),
        InputError::Negative { name, index } => at(*index, "must not be negative", name),
        InputError::NotPositive { name, index } => at(*index, "must be greater than zero", name),
        InputError::OutsideSupport { name, index } => {
            at(*index, "is outside its allowed range", name)
        }
        InputError::OutOfRange { name, detail } => {
            anyhow!("{path}: column `{}`: {detail} ({})", column(name), e.code())
        }
        _ => anyhow!("{path}: {e} ({})", e.code()),
    }
}

fn check_level(level: f64) -> anyhow::Result<()> {
    if level.is_finite() && level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        bail!("--level {level}: must be strictly between 0 and 1")
    }
}

// ---------------------------------------------------------------------------------
// estimate

#[derive(Serialize)]
struct EstimateReport {
    command: &'static str,
    input: String,
    var: String,
    /// "proportion" (every answer 0 or 1) or "mean".
    kind: &'static str,
    design: DesignInfo,
    level: f64,
    /// Proportion interval method, or "normal" for a mean (estimate ± z·se).
    interval_method: String,
    rows: usize,
    overall: EstimateOut,
    by: Option<String>,
    groups: Vec<GroupOut>,
    /// Groups whose rows all lack an answer: no estimate exists for them.
    groups_without_answers: Vec<String>,
}

#[derive(Serialize)]
struct DesignInfo {
    weight: Option<String>,
    strata: Option<String>,
    cluster: Option<String>,
    fpc: Option<String>,
    lonely_psu: LonelyPsu,
}

#[derive(Serialize)]
struct EstimateOut {
    n_obs: usize,
    n_missing: usize,
    weight_sum: f64,
    estimate: f64,
    se: f64,
    variance: f64,
    df: i64,
    deff: Option<f64>,
    deff_replace: Option<f64>,
    lower: f64,
    upper: f64,
    note: Option<CiNote>,
}

#[derive(Serialize)]
struct GroupOut {
    group: String,
    #[serde(flatten)]
    estimate: EstimateOut,
}

fn estimate(a: &EstimateArgs) -> anyhow::Result<String> {
    check_level(a.level)?;
    let mut t = Table::open(&a.input)?;
    let var = t.column(&a.var, "--var")?;
    let opt = |t: &Table, c: &Option<String>, flag: &str| -> anyhow::Result<Option<usize>> {
        c.as_deref().map(|c| t.column(c, flag)).transpose()
    };
    let strata_col = opt(&t, &a.strata, "--strata")?;
    let cluster_col = opt(&t, &a.cluster, "--cluster")?;
    let weight_col = opt(&t, &a.weight, "--weight")?;
    let fpc_col = opt(&t, &a.fpc, "--fpc")?;
    let by_col = opt(&t, &a.by, "--by")?;

    let mut y = Vec::new();
    let mut answered = Vec::new();
    let mut weights = Vec::new();
    let mut locs = Vec::new();
    let (mut strata, mut clusters, mut fpc, mut groups) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut strata_l, mut cluster_l, mut group_l) =
        (Labels::default(), Labels::default(), Labels::default());
    // First row and population size seen per stratum, to name the row that disagrees.
    let mut fpc_seen: HashMap<usize, (u64, f64)> = HashMap::new();
    while t.next()? {
        let loc = t.loc();
        let v = t.optional_number(var)?;
        answered.push(v.is_some());
        y.push(v.unwrap_or(0.0));
        weights.push(match weight_col {
            Some(c) => {
                let w = t.number(c)?;
                if w <= 0.0 {
                    return Err(t.fail(loc, c, &format!("weight {w} must be greater than zero")));
                }
                w
            }
            None => 1.0,
        });
        let h = match strata_col {
            Some(c) => {
                let h = strata_l.id(t.label(c)?);
                strata.push(h);
                h
            }
            None => 0,
        };
        if let Some(c) = cluster_col {
            clusters.push(cluster_l.id(t.label(c)?));
        }
        if let Some(c) = fpc_col {
            let f = t.number(c)?;
            if f <= 0.0 {
                return Err(t.fail(
                    loc,
                    c,
                    &format!("population size {f} must be greater than zero"),
                ));
            }
            match fpc_seen.get(&h) {
                Some(&(row, prev)) if prev != f => {
                    return Err(t.fail(
                        loc,
                        c,
                        &format!("{f} differs from {prev} on row {row} of the same stratum"),
                    ));
                }
                Some(_) => {}
                None => {
                    fpc_seen.insert(h, (t.row, f));
                }
            }
            fpc.push(f);
        }
        if let Some(c) = by_col {
            groups.push(group_l.id(t.label(c)?));
        }
        locs.push(loc);
    }
    if y.is_empty() {
        bail!("{}: no data rows", t.path);
    }
    let n_answered = answered.iter().filter(|x| **x).count();
    if n_answered == 0 {
        bail!(
            "{}: column `{}` has no answers (every cell is blank or NA)",
            t.path,
            a.var
        );
    }
    let is_prop = y
        .iter()
        .zip(&answered)
        .all(|(v, &ok)| !ok || *v == 0.0 || *v == 1.0);
    let spec = DesignSpec {
        weights: &weights,
        strata: strata_col.map(|_| strata.as_slice()),
        clusters: cluster_col.map(|_| clusters.as_slice()),
        fpc: fpc_col.map(|_| fpc.as_slice()),
        lonely_psu: a.lonely_psu.into(),
    };
    let path = t.path.clone();
    let colname = |name: &str| -> String {
        match name {
            "weights" => a.weight.clone().unwrap_or_else(|| "weights".into()),
            "fpc" => a.fpc.clone().unwrap_or_else(|| "fpc".into()),
            "strata" => a.strata.clone().unwrap_or_else(|| "strata".into()),
            "clusters" => a.cluster.clone().unwrap_or_else(|| "clusters".into()),
            "y" => a.var.clone(),
            other => other.to_owned(),
        }
    };
    let lonely = |e: InputError| -> anyhow::Error {
        match e {
            InputError::LonelyPsu { stratum } => {
                let which = match &a.strata {
                    Some(c) => format!("stratum `{}` (column `{c}`)", strata_l.name(stratum)),
                    None => "the sample".to_owned(),
                };
                anyhow!(
                    "{path}: {which} has a single sampling unit, so its variance cannot be \
                     estimated; choose --lonely-psu certainty|adjust|average ({})",
                    e.code()
                )
            }
            e => explain(&path, e, &locs, colname),
        }
    };
    let design = Design::new(spec).map_err(lonely)?;
    let weighted = a.weight.is_some() || a.strata.is_some() || a.cluster.is_some();
    let method: PropCiMethod = a
        .prop_ci
        .map_or_else(|| recommended_method(weighted), Into::into);
    let one = |mask: &[bool], n_missing: usize| -> anyhow::Result<EstimateOut> {
        let out = if is_prop {
            let p = design
                .proportion(&y, Some(mask), method, a.level)
                .map_err(lonely)?;
            finish(
                &p.mean,
                n_missing,
                p.interval.lower,
                p.interval.upper,
                p.interval.note,
            )
        } else {
            let m = design.mean(&y, Some(mask)).map_err(lonely)?;
            let (lo, hi) = m.interval(a.level, false).map_err(lonely)?;
            finish(&m, n_missing, lo, hi, None)
        };
        Ok(out)
    };
    let overall = one(&answered, y.len() - n_answered)?;
    let mut groups_out = Vec::new();
    let mut without = Vec::new();
    if by_col.is_some() {
        for g in group_l.sorted() {
            let mask: Vec<bool> = groups
                .iter()
                .zip(&answered)
                .map(|(&gi, &ok)| gi == g && ok)
                .collect();
            let in_group = groups.iter().filter(|&&gi| gi == g).count();
            let n = mask.iter().filter(|m| **m).count();
            let name = group_l.name(g).to_owned();
            if n == 0 {
                without.push(name);
                continue;
            }
            groups_out.push(GroupOut {
                group: name,
                estimate: one(&mask, in_group - n)?,
            });
        }
    }
    let report = EstimateReport {
        command: "estimate",
        input: t.path.clone(),
        var: a.var.clone(),
        kind: if is_prop { "proportion" } else { "mean" },
        design: DesignInfo {
            weight: a.weight.clone(),
            strata: a.strata.clone(),
            cluster: a.cluster.clone(),
            fpc: a.fpc.clone(),
            lonely_psu: a.lonely_psu.into(),
        },
        level: a.level,
        interval_method: if is_prop {
            method_name(method)
        } else {
            "normal".to_owned()
        },
        rows: y.len(),
        overall,
        by: a.by.clone(),
        groups: groups_out,
        groups_without_answers: without,
    };
    match a.format {
        Format::Json => Ok(serde_json::to_string_pretty(&report)? + "\n"),
        Format::Text => Ok(estimate_text(&report)),
        Format::Csv => estimate_csv(&report),
    }
}

fn finish(
    m: &MeanEstimate,
    n_missing: usize,
    lower: f64,
    upper: f64,
    note: Option<CiNote>,
) -> EstimateOut {
    EstimateOut {
        n_obs: m.n_obs,
        n_missing,
        weight_sum: m.weight_sum,
        estimate: m.estimate,
        se: m.se,
        variance: m.variance,
        df: m.df,
        deff: m.deff,
        deff_replace: m.deff_replace,
        lower,
        upper,
        note,
    }
}

fn method_name(m: PropCiMethod) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn opt_num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |d| format!("{d:.3}"))
}

fn estimate_text(r: &EstimateReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} of `{}` in {} ({} rows), {:.0}% intervals: {}",
        r.kind,
        r.var,
        r.input,
        r.rows,
        r.level * 100.0,
        r.interval_method
    );
    let _ = writeln!(
        s,
        "{:<16} {:>7} {:>7} {:>12} {:>12} {:>12} {:>12} {:>8}",
        "group", "n", "missing", "estimate", "se", "lower", "upper", "deff"
    );
    let mut row = |name: &str, e: &EstimateOut| {
        let _ = writeln!(
            s,
            "{:<16} {:>7} {:>7} {:>12.6} {:>12.6} {:>12.6} {:>12.6} {:>8}{}",
            name,
            e.n_obs,
            e.n_missing,
            e.estimate,
            e.se,
            e.lower,
            e.upper,
            opt_num(e.deff),
            if e.note.is_some() { "  (boundary)" } else { "" }
        );
    };
    row("(all)", &r.overall);
    for g in &r.groups {
        row(&g.group, &g.estimate);
    }
    for g in &r.groups_without_answers {
        let _ = writeln!(s, "{g:<16} no answers");
    }
    s
}

fn estimate_csv(r: &EstimateReport) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "group",
        "n_obs",
        "n_missing",
        "estimate",
        "se",
        "lower",
        "upper",
        "deff",
        "df",
    ])?;
    let mut row = |name: &str, e: &EstimateOut| {
        w.write_record([
            name.to_owned(),
            e.n_obs.to_string(),
            e.n_missing.to_string(),
            e.estimate.to_string(),
            e.se.to_string(),
            e.lower.to_string(),
            e.upper.to_string(),
            e.deff.map_or_else(String::new, |d| d.to_string()),
            e.df.to_string(),
        ])
    };
    if r.by.is_some() {
        for g in &r.groups {
            row(&g.group, &g.estimate)?;
        }
    } else {
        row("all", &r.overall)?;
    }
    Ok(String::from_utf8(
        w.into_inner().map_err(|e| anyhow!("{e}"))?,
    )?)
}

// ---------------------------------------------------------------------------------
// fh

#[derive(Serialize)]
struct FhReport {
    command: &'static str,
    input: String,
    model_variance: f64,
    at_zero: bool,
    iterations: usize,
    beta: Vec<Coef>,
    areas: Vec<FhAreaOut>,
}

#[derive(Serialize)]
struct Coef {
    name: String,
    value: f64,
}

#[derive(Serialize)]
struct FhAreaOut {
    area: String,
    direct: f64,
    direct_variance: f64,
    synthetic: f64,
    gamma: f64,
    eblup: f64,
    mse: f64,
}

fn fh(a: &FhArgs) -> anyhow::Result<String> {
    let mut t = Table::open(&a.input)?;
    let direct_c = t.column(&a.direct, "--direct")?;
    let var_c = t.column(&a.variance, "--variance")?;
    let cov_c: Vec<usize> = a
        .covariates
        .iter()
        .map(|c| t.column(c, "--covariates"))
        .collect::<anyhow::Result<_>>()?;
    let area_c = a
        .area
        .as_deref()
        .map(|c| t.column(c, "--area"))
        .transpose()?;
    let p = cov_c.len() + 1;
    let (mut direct, mut vardir, mut x, mut names) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut seen = HashMap::new();
    while t.next()? {
        let loc = t.loc();
        let name = match area_c {
            Some(c) => {
                let l = t.label(c)?.to_owned();
                unique_label(&mut seen, &t, c, &l)?;
                l
            }
            None => t.row.to_string(),
        };
        direct.push(t.number(direct_c)?);
        let v = t.number(var_c)?;
        if v <= 0.0 {
            return Err(t.fail(
                loc,
                var_c,
                &format!("sampling variance {v} must be greater than zero"),
            ));
        }
        vardir.push(v);
        x.push(1.0);
        for &c in &cov_c {
            x.push(t.number(c)?);
        }
        names.push(name);
    }
    if direct.is_empty() {
        bail!("{}: no data rows", t.path);
    }
    let fit = minyi_stats::sae::fay_herriot(&direct, &vardir, &x, p).map_err(|e| match e {
        InputError::Singular { .. } => anyhow!(
            "{}: the covariates are collinear (or constant), so the model cannot be fitted ({})",
            t.path,
            e.code()
        ),
        InputError::OutOfRange { .. } => anyhow!(
            "{}: {} areas are too few for {} coefficients (intercept and covariates) ({})",
            t.path,
            direct.len(),
            p,
            e.code()
        ),
        e => anyhow!("{}: {e} ({})", t.path, e.code()),
    })?;
    let beta = std::iter::once("intercept".to_owned())
        .chain(a.covariates.iter().cloned())
        .zip(&fit.beta)
        .map(|(name, &value)| Coef { name, value })
        .collect();
    let report = FhReport {
        command: "fh",
        input: t.path.clone(),
        model_variance: fit.model_variance,
        at_zero: fit.at_zero,
        iterations: fit.iterations,
        beta,
        areas: names
            .into_iter()
            .zip(&fit.areas)
            .map(|(area, f)| FhAreaOut {
                area,
                direct: f.direct,
                direct_variance: f.direct_variance,
                synthetic: f.synthetic,
                gamma: f.gamma,
                eblup: f.eblup,
                mse: f.mse,
            })
            .collect(),
    };
    match a.format {
        Format::Json => Ok(serde_json::to_string_pretty(&report)? + "\n"),
        Format::Text => {
            let mut s = String::new();
            let _ = writeln!(
                s,
                "Fay-Herriot REML on {} ({} areas): model variance {:.6}{}, {} iterations",
                report.input,
                report.areas.len(),
                report.model_variance,
                if report.at_zero { " (at zero)" } else { "" },
                report.iterations
            );
            for b in &report.beta {
                let _ = writeln!(s, "  beta {:<14} {:>12.6}", b.name, b.value);
            }
            let _ = writeln!(
                s,
                "{:<16} {:>12} {:>12} {:>8} {:>12} {:>12}",
                "area", "direct", "synthetic", "gamma", "eblup", "rmse"
            );
            for r in &report.areas {
                let _ = writeln!(
                    s,
                    "{:<16} {:>12.6} {:>12.6} {:>8.4} {:>12.6} {:>12.6}",
                    r.area,
                    r.direct,
                    r.synthetic,
                    r.gamma,
                    r.eblup,
                    r.mse.sqrt()
                );
            }
            Ok(s)
        }
        Format::Csv => bail!("--format csv is only available for `minyi stats estimate`"),
    }
}

// ---------------------------------------------------------------------------------
// ranks

#[derive(Serialize)]
struct RanksReport {
    command: &'static str,
    input: String,
    method: RankMethod,
    higher_is_better: bool,
    level: f64,
    units: Vec<UnitOut>,
}

#[derive(Serialize)]
struct UnitOut {
    unit: String,
    estimate: f64,
    se: f64,
    expected_rank: f64,
    rank_interval: RankInterval,
    /// P(rank ≤ k), keyed by k.
    p_top: serde_json::Map<String, serde_json::Value>,
    /// P(among the last k), keyed by k.
    p_bottom: serde_json::Map<String, serde_json::Value>,
    joint_rank_set: RankInterval,
    marginal_rank_set: RankInterval,
    /// P(rank = r) for r = 1..K.
    rank_probabilities: Vec<f64>,
}

fn ranks(a: &RanksArgs) -> anyhow::Result<String> {
    check_level(a.level)?;
    for (flag, ks) in [("--top", &a.top), ("--bottom", &a.bottom)] {
        if ks.contains(&0) {
            bail!("{flag}: k must be at least 1");
        }
    }
    let mut t = Table::open(&a.input)?;
    let est_c = t.column(&a.estimate, "--estimate")?;
    let se_c = t.column(&a.se, "--se")?;
    let unit_c = a
        .unit
        .as_deref()
        .map(|c| t.column(c, "--unit"))
        .transpose()?;
    let (mut est, mut se, mut names) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = HashMap::new();
    while t.next()? {
        let loc = t.loc();
        let name = match unit_c {
            Some(c) => {
                let l = t.label(c)?.to_owned();
                unique_label(&mut seen, &t, c, &l)?;
                l
            }
            None => t.row.to_string(),
        };
        est.push(t.number(est_c)?);
        let s = t.number(se_c)?;
        if s < 0.0 {
            return Err(t.fail(
                loc,
                se_c,
                &format!("standard error {s} must not be negative"),
            ));
        }
        se.push(s);
        names.push(name);
    }
    if est.is_empty() {
        bail!("{}: no data rows", t.path);
    }
    let hib = !a.lower_is_better;
    let path = t.path.clone();
    let lib = |e: InputError| anyhow!("{path}: {e} ({})", e.code());
    let dist: RankDistribution = match a.method {
        Method::Simulate => {
            let draws = usize::try_from(a.draws).map_err(|_| anyhow!("--draws is too large"))?;
            minyi_stats::ranks::simulate(&est, &se, draws, a.seed, hib).map_err(lib)?
        }
        Method::Exact => minyi_stats::ranks::exact(&est, &se, hib).map_err(lib)?,
    };
    let summary = dist.summary(a.level, &a.top, &a.bottom).map_err(lib)?;
    let joint =
        minyi_stats::ranks::rank_confidence_sets(&est, &se, a.level, true, hib).map_err(lib)?;
    let marginal =
        minyi_stats::ranks::rank_confidence_sets(&est, &se, a.level, false, hib).map_err(lib)?;
    let keyed = |v: &[(usize, f64)]| {
        v.iter()
            .map(|(k, p)| (k.to_string(), serde_json::json!(p)))
            .collect::<serde_json::Map<_, _>>()
    };
    let mut units = Vec::with_capacity(names.len());
    for ((((name, sm), j), m), probs) in names
        .into_iter()
        .zip(&summary)
        .zip(&joint)
        .zip(&marginal)
        .zip(&dist.probs)
    {
        units.push(UnitOut {
            estimate: est.get(sm.unit).copied().unwrap_or_default(),
            se: se.get(sm.unit).copied().unwrap_or_default(),
            unit: name,
            expected_rank: sm.expected_rank,
            rank_interval: sm.interval,
            p_top: keyed(&sm.p_top),
            p_bottom: keyed(&sm.p_bottom),
            joint_rank_set: *j,
            marginal_rank_set: *m,
            rank_probabilities: probs.clone(),
        });
    }
    let report = RanksReport {
        command: "ranks",
        input: t.path.clone(),
        method: dist.method,
        higher_is_better: hib,
        level: a.level,
        units,
    };
    match a.format {
        Format::Json => Ok(serde_json::to_string_pretty(&report)? + "\n"),
        Format::Text => Ok(ranks_text(&report, a)),
        Format::Csv => bail!("--format csv is only available for `minyi stats estimate`"),
    }
}

fn ranks_text(r: &RanksReport, a: &RanksArgs) -> String {
    let mut s = String::new();
    let how = match r.method {
        RankMethod::Simulated { draws, seed } => format!("{draws} draws, seed {seed}"),
        RankMethod::Exact => "exact integration".to_owned(),
    };
    let _ = writeln!(
        s,
        "ranks of {} units in {} ({how}); rank 1 is the {} estimate; {:.0}% intervals",
        r.units.len(),
        r.input,
        if r.higher_is_better {
            "highest"
        } else {
            "lowest"
        },
        r.level * 100.0
    );
    let mut head = format!(
        "{:<16} {:>10} {:>8} {:>9} {:>9} {:>9}",
        "unit", "estimate", "se", "E[rank]", "interval", "joint"
    );
    for k in &a.top {
        let _ = write!(head, " {:>8}", format!("top{k}"));
    }
    for k in &a.bottom {
        let _ = write!(head, " {:>8}", format!("bot{k}"));
    }
    let _ = writeln!(s, "{head}");
    for u in &r.units {
        let _ = write!(
            s,
            "{:<16} {:>10.4} {:>8.4} {:>9.2} {:>9} {:>9}",
            u.unit,
            u.estimate,
            u.se,
            u.expected_rank,
            format!("{}-{}", u.rank_interval.lower, u.rank_interval.upper),
            format!("{}-{}", u.joint_rank_set.lower, u.joint_rank_set.upper),
        );
        let tops = a.top.iter().map(|k| u.p_top.get(&k.to_string()));
        let bottoms = a.bottom.iter().map(|k| u.p_bottom.get(&k.to_string()));
        for v in tops.chain(bottoms) {
            let p = v.and_then(serde_json::Value::as_f64).unwrap_or_default();
            let _ = write!(s, " {p:>8.3}");
        }
        let _ = writeln!(s);
    }
    s
}
