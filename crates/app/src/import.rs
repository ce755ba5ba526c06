//! Importing opinions collected offline or on other systems — suggestion boxes, visits,
//! questionnaires, residents' forums, the 96995 grid platform, the police microblog — from
//! a CSV or XLSX export (format: docs/formats.md, "`minyi import opinions`").
//!
//! Three steps: [`read_table`] turns a file into rows of strings; [`parse_rows`] (pure)
//! validates every row into an [`ImportRow`] or a [`RowError`] naming its row and column;
//! [`import_opinions`] triages the valid rows as intake does (area → station, deadline
//! from the category), seals contacts, writes them in batches and audits the file once.
//!
//! Rejection reasons never quote a resident's name, number, ID or address, and the audit
//! entry holds counts only. Re-importing a file adds nothing: every row carries a stable
//! client key.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};
use minyi_core::PhoneNumber;
use minyi_core::calendar::SHANGHAI;
use minyi_core::identity::{Address, IdNumber, ResidentName};
use minyi_core::opinion::{
    Escalation, NewOpinion, OpinionState, OpinionText, TrackingCode, default_response_working_days,
};
use minyi_core::taxonomy::{Category, Channel, Sentiment, Urgency};
use minyi_store::{ImportItem, InsertOutcome};
use sha2::{Digest, Sha256};

use crate::audit::{AuditAction, record};
use crate::privacy::{ContactInput, seal};
use crate::{App, AppError, Result};

/// The channels whose exports this import is for. Web forms, SMS, hotlines and devices
/// reach minyi through intake directly; an export claiming them is a mistake.
pub const IMPORT_CHANNELS: &[Channel] = &[
    Channel::SuggestionBox,
    Channel::Visit,
    Channel::Questionnaire,
    Channel::Forum,
    Channel::GridPlatform,
    Channel::Microblog,
    Channel::BulkSms,
    Channel::Mailbox,
];

/// Rows written per transaction: a failure part-way keeps whole batches, and the
/// progress bar moves.
pub const BATCH_ROWS: usize = 2_000;

/// The columns a file may have. Headers match case-insensitively, with zh-CN aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Text,
    ReceivedAt,
    Channel,
    Category,
    Area,
    Name,
    Phone,
    IdNumber,
    Address,
    ExternalId,
}

impl Column {
    pub const ALL: &'static [Column] = &[
        Column::Text,
        Column::ReceivedAt,
        Column::Channel,
        Column::Category,
        Column::Area,
        Column::Name,
        Column::Phone,
        Column::IdNumber,
        Column::Address,
        Column::ExternalId,
    ];

    /// The English header, used in every report.
    pub fn code(self) -> &'static str {
        match self {
            Column::Text => "text",
            Column::ReceivedAt => "received_at",
            Column::Channel => "channel",
            Column::Category => "category",
            Column::Area => "area",
            Column::Name => "name",
            Column::Phone => "phone",
            Column::IdNumber => "id_number",
            Column::Address => "address",
            Column::ExternalId => "external_id",
        }
    }

    /// Every header accepted for the column (compared after trimming and lower-casing).
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::Text => &["text", "内容", "意见内容", "诉求内容"],
            Column::ReceivedAt => &["received_at", "受理时间", "时间"],
            Column::Channel => &["channel", "渠道"],
            Column::Category => &["category", "类别"],
            Column::Area => &["area", "area_code", "村社代码"],
            Column::Name => &["name", "姓名"],
            Column::Phone => &["phone", "电话", "联系电话"],
            Column::IdNumber => &["id_number", "身份证号"],
            Column::Address => &["address", "住址"],
            Column::ExternalId => &["external_id", "编号"],
        }
    }

    fn from_header(h: &str) -> Option<Column> {
        let h = h.trim().trim_start_matches('\u{feff}').to_lowercase();
        Column::ALL
            .iter()
            .copied()
            .find(|c| c.aliases().contains(&h.as_str()))
    }

    /// Contact columns: their values never appear in a report.
    fn is_personal(self) -> bool {
        matches!(
            self,
            Column::Name | Column::Phone | Column::IdNumber | Column::Address
        )
    }
}

/// A file read into strings: the header and each data row with its row number as a
/// spreadsheet shows it (the header is row 1).
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<TableRow>,
}

#[derive(Debug, Clone)]
pub struct TableRow {
    pub row: usize,
    pub cells: std::result::Result<Vec<String>, String>,
}

/// Why one row was refused: its row number, the column (or `-` for the row as a whole)
/// and what was wrong. Never holds the value of a contact column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "row {}, column {}: {}",
            self.row, self.column, self.reason
        )
    }
}

/// A valid row, ready to triage.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub row: usize,
    pub channel: Channel,
    pub text: OpinionText,
    pub category: Category,
    pub area_code: Option<String>,
    pub received_at: DateTime<Utc>,
    /// Debug of `ContactInput` masks every field.
    pub contact: ContactInput,
    /// `import:` + SHA-256 hex, stable across runs (see [`client_key`]).
    pub client_key: String,
}

/// Reads a CSV (UTF-8, a BOM allowed) or an XLSX file (its first sheet), by extension.
pub fn read_table(path: &Path) -> Result<Table> {
    let shown = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => {
            let bytes = std::fs::read(path)
                .map_err(|e| AppError::Invalid(format!("cannot read {shown}: {e}")))?;
            read_csv(&bytes).map_err(|e| AppError::Invalid(format!("{shown}: {e}")))
        }
        Some("xlsx") => read_xlsx(path).map_err(|e| AppError::Invalid(format!("{shown}: {e}"))),
        _ => Err(AppError::Invalid(format!(
            "{shown}: expected a .csv or .xlsx file"
        ))),
    }
}

/// CSV bytes into a table. A row that is not UTF-8 is refused by itself, not the file.
pub fn read_csv(bytes: &[u8]) -> std::result::Result<Table, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut table = Table::default();
    let mut record = csv::ByteRecord::new();
    let mut n = 0usize;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(format!("row {}: not valid CSV: {e}", n + 1)),
        }
        n += 1;
        let cells: std::result::Result<Vec<String>, String> = record
            .iter()
            .map(|f| {
                std::str::from_utf8(f)
                    .map(str::to_owned)
                    .map_err(|_| "not UTF-8 text (save the file as CSV UTF-8)".to_owned())
            })
            .collect();
        if n == 1 {
            table.header = cells.map_err(|e| format!("header row: {e}"))?;
        } else {
            table.rows.push(TableRow { row: n, cells });
        }
    }
    if n == 0 {
        return Err("the file is empty; a header row is required".into());
    }
    Ok(table)
}

/// The first sheet of a workbook. Numbers are written without a trailing `.0` (phone
/// numbers are often stored as numbers); date cells become `YYYY-MM-DD HH:MM:SS`, local
/// time as shown.
pub fn read_xlsx(path: &Path) -> std::result::Result<Table, String> {
    use calamine::{Data, Reader, Xlsx, open_workbook};
    let mut book: Xlsx<_> = open_workbook(path).map_err(|e| format!("not a readable XLSX: {e}"))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or("the workbook has no sheet")?
        .map_err(|e| format!("first sheet: {e}"))?;
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    let first_col = range.start().map_or(0, |(_, c)| c as usize);
    let cell = |d: &Data| -> String {
        match d {
            Data::Empty => String::new(),
            Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
            Data::Int(i) => i.to_string(),
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Data::Float(f) => f.to_string(),
            Data::Bool(b) => b.to_string(),
            Data::DateTime(d) => excel_serial(d.as_f64()).unwrap_or_else(|| d.to_string()),
            Data::Error(e) => format!("#{e:?}"),
        }
    };
    let mut table = Table::default();
    for (i, r) in range.rows().enumerate() {
        // Cells left of the used range are empty; keep columns aligned to the header.
        let mut cells = vec![String::new(); first_col];
        cells.extend(r.iter().map(cell));
        if i == 0 {
            table.header = cells;
        } else {
            table.rows.push(TableRow {
                row: first_row + i + 1,
                cells: Ok(cells),
            });
        }
    }
    if table.header.iter().all(|h| h.trim().is_empty()) {
        return Err("the first sheet is empty; a header row is required".into());
    }
    Ok(table)
}

/// An Excel serial date (days since 1899-12-30, wall-clock time) as text.
fn excel_serial(v: f64) -> Option<String> {
    if !v.is_finite() || !(0.0..2_958_466.0).contains(&v) {
        return None;
    }
    let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
    let t = base + Duration::milliseconds((v * 86_400_000.0).round() as i64);
    Some(t.format("%Y-%m-%d %H:%M:%S").to_string())
}

/// Parses `YYYY-MM-DD HH:MM[:SS]` (also with `/` or a `T`) as Asia/Shanghai local time,
/// or an RFC 3339 time with its own offset.
pub fn parse_received_at(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    let norm = s.replace('/', "-").replacen('T', " ", 1);
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(&norm, f) {
            return SHANGHAI
                .from_local_datetime(&t)
                .single()
                .map(|t| t.with_timezone(&Utc))
                .ok_or_else(|| "not a valid local time".to_owned());
        }
    }
    Err("expected YYYY-MM-DD HH:MM[:SS] (Asia/Shanghai time) or an RFC 3339 time".into())
}

/// A vocabulary value by its code or its zh-CN label.
fn code_or_label<T: Copy>(
    all: &[T],
    value: &str,
    code: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
) -> Option<T> {
    let v = value.trim();
    all.iter()
        .copied()
        .find(|&x| code(x) == v.to_ascii_lowercase() || label(x) == v)
}

fn parse_channel(v: &str) -> std::result::Result<Channel, String> {
    let allowed: Vec<&str> = IMPORT_CHANNELS.iter().map(|c| c.code()).collect();
    match code_or_label(Channel::ALL, v, Channel::code, Channel::label_zh) {
        Some(c) if IMPORT_CHANNELS.contains(&c) => Ok(c),
        Some(c) => Err(format!(
            "channel `{}` is not one that is imported from files (allowed: {})",
            c.code(),
            allowed.join(", ")
        )),
        None => Err(format!(
            "unknown channel `{}` (allowed: {})",
            v.trim().chars().take(40).collect::<String>(),
            allowed.join(", ")
        )),
    }
}

/// Checks a `--channel` given on the command line.
pub fn parse_default_channel(v: &str) -> Result<Channel> {
    parse_channel(v).map_err(|e| AppError::Invalid(format!("--channel: {e}")))
}

/// `import:` and the SHA-256 (hex) of the channel and the file's own id when the row has
/// one; otherwise of the row's normalised content (channel, time, category, area, text).
/// Contacts are left out: a hash of a phone number would let anyone test numbers.
pub fn client_key(
    channel: Channel,
    external_id: Option<&str>,
    received_at: DateTime<Utc>,
    category: Category,
    area: Option<&str>,
    text: &OpinionText,
) -> String {
    let mut h = Sha256::new();
    match external_id {
        Some(id) => {
            h.update(b"id\x1f");
            h.update(channel.code().as_bytes());
            h.update(b"\x1f");
            h.update(id.as_bytes());
        }
        None => {
            h.update(b"row\x1f");
            h.update(channel.code().as_bytes());
            h.update(b"\x1f");
            h.update(received_at.timestamp_millis().to_string().as_bytes());
            h.update(b"\x1f");
            h.update(category.code().as_bytes());
            h.update(b"\x1f");
            h.update(area.unwrap_or("").as_bytes());
            h.update(b"\x1f");
            h.update(text.as_str().as_bytes());
        }
    }
    let digest = h.finalize();
    let mut key = String::with_capacity(7 + 64);
    key.push_str("import:");
    for b in digest.iter() {
        key.push_str(&format!("{b:02x}"));
    }
    key
}

/// The header checked: which column is where, and which headers were ignored.
#[derive(Debug, Clone)]
pub struct Layout {
    index: HashMap<Column, usize>,
    pub ignored: Vec<String>,
}

/// Maps the header. Missing `text` or `received_at`, a column given twice, or no
/// channel column with no `default_channel` are refused for the whole file.
pub fn layout(header: &[String], default_channel: Option<Channel>) -> Result<Layout> {
    let mut index = HashMap::new();
    let mut ignored = Vec::new();
    for (i, h) in header.iter().enumerate() {
        match Column::from_header(h) {
            Some(c) => {
                if index.insert(c, i).is_some() {
                    return Err(AppError::Invalid(format!(
                        "header: column `{}` appears twice (aliases: {})",
                        c.code(),
                        c.aliases().join(", ")
                    )));
                }
            }
            None if h.trim().is_empty() => {}
            None => ignored.push(h.trim().chars().take(40).collect()),
        }
    }
    for c in [Column::Text, Column::ReceivedAt] {
        if !index.contains_key(&c) {
            return Err(AppError::Invalid(format!(
                "header: required column `{}` is missing (accepted headers: {})",
                c.code(),
                c.aliases().join(", ")
            )));
        }
    }
    if !index.contains_key(&Column::Channel) && default_channel.is_none() {
        return Err(AppError::Invalid(
            "header: no `channel` (渠道) column, and no --channel given".into(),
        ));
    }
    Ok(Layout { index, ignored })
}

/// Validates every row. Pure: no clock (`now` bounds received times), no store.
pub fn parse_rows(
    table: &Table,
    layout: &Layout,
    default_channel: Option<Channel>,
    now: DateTime<Utc>,
) -> Vec<std::result::Result<ImportRow, RowError>> {
    table
        .rows
        .iter()
        .filter(|r| !matches!(&r.cells, Ok(c) if c.iter().all(|v| v.trim().is_empty())))
        .map(|r| parse_row(r, layout, default_channel, now))
        .collect()
}

fn parse_row(
    r: &TableRow,
    layout: &Layout,
    default_channel: Option<Channel>,
    now: DateTime<Utc>,
) -> std::result::Result<ImportRow, RowError> {
    let err = |column: Column, reason: String| RowError {
        row: r.row,
        column: column.code().to_owned(),
        reason,
    };
    let cells = r.cells.as_ref().map_err(|e| RowError {
        row: r.row,
        column: "-".into(),
        reason: e.clone(),
    })?;
    let get = |c: Column| -> Option<&str> {
        layout
            .index
            .get(&c)
            .and_then(|&i| cells.get(i))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    };
    let text = OpinionText::parse(get(Column::Text).unwrap_or(""))
        .map_err(|e| err(Column::Text, e.to_string()))?;
    let received_at = match get(Column::ReceivedAt) {
        None => return Err(err(Column::ReceivedAt, "empty".into())),
        Some(v) => parse_received_at(v).map_err(|e| err(Column::ReceivedAt, e))?,
    };
    if received_at > now + Duration::days(1) {
        return Err(err(Column::ReceivedAt, "is in the future".into()));
    }
    let channel = match (get(Column::Channel), default_channel) {
        (Some(v), _) => parse_channel(v).map_err(|e| err(Column::Channel, e))?,
        (None, Some(c)) => c,
        (None, None) => return Err(err(Column::Channel, "empty, and no --channel given".into())),
    };
    let category = match get(Column::Category) {
        None => Category::Other,
        Some(v) => code_or_label(Category::ALL, v, Category::code, Category::label_zh).ok_or_else(
            || {
                err(
                    Column::Category,
                    Category::parse(v).map_or_else(|e| e.to_string(), |_| String::new()),
                )
            },
        )?,
    };
    let area_code = get(Column::Area).map(str::to_owned);
    let external_id = get(Column::ExternalId);
    // Contact reasons come from the identity parsers, which never quote the value.
    let personal = |c: Column, e: minyi_core::ParseError| {
        debug_assert!(c.is_personal());
        err(c, e.to_string())
    };
    let contact = ContactInput {
        name: get(Column::Name)
            .map(ResidentName::parse)
            .transpose()
            .map_err(|e| personal(Column::Name, e))?,
        phone: get(Column::Phone)
            .map(PhoneNumber::parse)
            .transpose()
            .map_err(|e| personal(Column::Phone, e))?,
        id_number: get(Column::IdNumber)
            .map(IdNumber::parse)
            .transpose()
            .map_err(|e| personal(Column::IdNumber, e))?,
        address: get(Column::Address)
            .map(Address::parse)
            .transpose()
            .map_err(|e| personal(Column::Address, e))?,
    };
    let client_key = client_key(
        channel,
        external_id,
        received_at,
        category,
        area_code.as_deref(),
        &text,
    );
    Ok(ImportRow {
        row: r.row,
        channel,
        text,
        category,
        area_code,
        received_at,
        contact,
        client_key,
    })
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Data rows read (blank rows are skipped and not counted).
    pub rows: usize,
    /// Opinions stored by this run (would be stored, in a dry run).
    pub created: usize,
    /// Rows already stored by an earlier import (or earlier in the same file).
    pub existing: usize,
    /// Of the created rows, those with a sealed contact.
    pub with_contact: usize,
    pub rejected: Vec<RowError>,
    pub ignored_columns: Vec<String>,
    pub dry_run: bool,
}

fn random_bits() -> u64 {
    let h = minyi_vault::token_hash(&minyi_vault::new_secret_token());
    u64::from_str_radix(&h[..16], 16).unwrap_or(0)
}

/// Imports a table: validates, triages, writes in batches of [`BATCH_ROWS`] (each batch
/// one transaction) and records one `import` audit entry with counts. `progress` is
/// called with the number of rows handled so far. A dry run writes nothing.
pub async fn import_opinions(
    app: &App,
    table: &Table,
    default_channel: Option<Channel>,
    dry_run: bool,
    actor: &str,
    now: DateTime<Utc>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<ImportReport> {
    let layout = layout(&table.header, default_channel)?;
    let parsed = parse_rows(table, &layout, default_channel, now);
    let mut report = ImportReport {
        rows: parsed.len(),
        ignored_columns: layout.ignored.clone(),
        dry_run,
        ..ImportReport::default()
    };
    let areas: HashMap<String, (i64, Option<i64>)> = app
        .store
        .areas()
        .await?
        .into_iter()
        .map(|a| (a.code.as_str().to_owned(), (a.id, a.station_id)))
        .collect();

    let mut items: Vec<ImportItem> = Vec::with_capacity(BATCH_ROWS);
    let mut handled = 0usize;
    let mut seen_in_dry_run: std::collections::HashSet<String> = Default::default();
    for p in parsed {
        handled += 1;
        let row = match p {
            Ok(r) => r,
            Err(e) => {
                report.rejected.push(e);
                continue;
            }
        };
        match triage(app, &row, &areas) {
            Ok(item) => items.push(item),
            Err(e) => {
                report.rejected.push(e);
                continue;
            }
        }
        if items.len() >= BATCH_ROWS {
            flush(
                app,
                &mut items,
                dry_run,
                &mut seen_in_dry_run,
                &mut report,
                now,
            )
            .await?;
            progress(handled);
        }
    }
    flush(
        app,
        &mut items,
        dry_run,
        &mut seen_in_dry_run,
        &mut report,
        now,
    )
    .await?;
    progress(handled);

    if !dry_run {
        record(
            app,
            now,
            actor,
            AuditAction::Import,
            "opinions",
            &format!(
                "rows={} created={} existing={} rejected={} with_contact={}",
                report.rows,
                report.created,
                report.existing,
                report.rejected.len(),
                report.with_contact
            ),
        )
        .await?;
    }
    Ok(report)
}

/// Area → station and the first deadline, as intake does; the contact sealed.
fn triage(
    app: &App,
    row: &ImportRow,
    areas: &HashMap<String, (i64, Option<i64>)>,
) -> std::result::Result<ImportItem, RowError> {
    let (area_id, unit_id) = match &row.area_code {
        None => (None, None),
        Some(code) => match areas.get(code) {
            Some(&(id, station)) => (Some(id), station),
            None => {
                return Err(RowError {
                    row: row.row,
                    column: Column::Area.code().into(),
                    reason: format!(
                        "unknown area `{}`",
                        code.chars().take(40).collect::<String>()
                    ),
                });
            }
        },
    };
    let urgency = Urgency::Normal;
    let days = default_response_working_days(row.category, urgency);
    let due_at = app
        .calendar
        .deadline(row.received_at, days)
        .map_err(|e| RowError {
            row: row.row,
            column: Column::ReceivedAt.code().into(),
            reason: format!("no deadline can be set: {e}"),
        })?;
    let contact = (!row.contact.is_empty()).then(|| seal(&app.key, &row.contact));
    Ok(ImportItem {
        opinion: NewOpinion {
            tracking_code: TrackingCode::from_bits(random_bits()),
            client_key: Some(row.client_key.clone()),
            channel: row.channel,
            text: row.text.clone(),
            category: row.category,
            sentiment: Sentiment::Neutral,
            urgency,
            department: None,
            area_id,
            unit_id,
            department_id: None,
            state: OpinionState::Received,
            escalation: Escalation::Station,
            key_opinion: false,
            received_at: row.received_at,
            due_at: Some(due_at),
            closed_at: None,
            verdict: None,
            synthetic: false,
        },
        contact,
    })
}

async fn flush(
    app: &App,
    items: &mut Vec<ImportItem>,
    dry_run: bool,
    seen: &mut std::collections::HashSet<String>,
    report: &mut ImportReport,
    now: DateTime<Utc>,
) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    if dry_run {
        let keys: Vec<String> = items
            .iter()
            .filter_map(|i| i.opinion.client_key.clone())
            .collect();
        let stored = app.store.existing_client_keys(&keys).await?;
        for i in items.drain(..) {
            let key = i.opinion.client_key.unwrap_or_default();
            if stored.contains_key(&key) || !seen.insert(key) {
                report.existing += 1;
            } else {
                report.created += 1;
                report.with_contact += usize::from(i.contact.is_some());
            }
        }
        return Ok(());
    }
    let mut pending = std::mem::take(items);
    for _ in 0..5 {
        let outcomes = app.store.import_opinions(&pending, now).await?;
        let mut retry = Vec::new();
        for (item, outcome) in pending.into_iter().zip(outcomes) {
            match outcome {
                InsertOutcome::Created(_) => {
                    report.created += 1;
                    report.with_contact += usize::from(item.contact.is_some());
                }
                InsertOutcome::Existing(_) => report.existing += 1,
                InsertOutcome::CodeTaken => {
                    let mut item = item;
                    item.opinion.tracking_code = TrackingCode::from_bits(random_bits());
                    retry.push(item);
                }
            }
        }
        if retry.is_empty() {
            return Ok(());
        }
        pending = retry;
    }
    Err(AppError::Refused(
        "could not find free tracking codes in five tries".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
    }

    fn table(csv: &str) -> Table {
        read_csv(csv.as_bytes()).unwrap()
    }

    fn parse(csv: &str, channel: Option<Channel>) -> Vec<std::result::Result<ImportRow, RowError>> {
        let t = table(csv);
        let l = layout(&t.header, channel).unwrap();
        parse_rows(&t, &l, channel, now())
    }

    #[test]
    fn headers_match_case_insensitively_and_in_chinese() {
        let rows = parse(
            "\u{feff}内容,受理时间,渠道,类别,村社代码,电话,编号\n路灯坏了,2026-05-01 08:30,suggestion_box,public_order,A-1,13800005678,X1\n",
            None,
        );
        let r = rows[0].as_ref().unwrap();
        assert_eq!(r.row, 2);
        assert_eq!(r.text.as_str(), "路灯坏了");
        assert_eq!(r.channel, Channel::SuggestionBox);
        assert_eq!(r.category, Category::PublicOrder);
        assert_eq!(r.area_code.as_deref(), Some("A-1"));
        assert_eq!(
            r.received_at,
            Utc.with_ymd_and_hms(2026, 5, 1, 0, 30, 0).unwrap()
        );
        assert_eq!(r.contact.phone.as_ref().unwrap().as_str(), "13800005678");
        let rows = parse(
            "TEXT,Received_At\nx,2026-05-01T08:30:00+08:00\n",
            Some(Channel::Visit),
        );
        let r = rows[0].as_ref().unwrap();
        assert_eq!(r.channel, Channel::Visit);
        assert_eq!(r.category, Category::Other);
        assert_eq!(
            r.received_at,
            Utc.with_ymd_and_hms(2026, 5, 1, 0, 30, 0).unwrap()
        );
    }

    #[test]
    fn every_bad_row_names_its_row_and_column() {
        let long = "字".repeat(5001);
        let csv = format!(
            "text,received_at,channel,phone,category\n\
             好,2026-05-01 08:30,visit,,\n\
             好,2026-13-01 08:30,visit,,\n\
             ,2026-05-01 08:30,visit,,\n\
             好,2026-05-01 08:30,telepathy,,\n\
             好,2026-05-01 08:30,web_form,,\n\
             好,2026-05-01 08:30,visit,13900001111x,\n\
             {long},2026-05-01 08:30,visit,,\n\
             好,2026-05-01 08:30,visit,,nonsense\n\
             好,2030-05-01 08:30,visit,,\n"
        );
        let rows = parse(&csv, None);
        let errs: Vec<(usize, String)> = rows
            .iter()
            .filter_map(|r| r.as_ref().err())
            .map(|e| (e.row, e.column.clone()))
            .collect();
        let want = [
            (3, "received_at"),
            (4, "text"),
            (5, "channel"),
            (6, "channel"),
            (7, "phone"),
            (8, "text"),
            (9, "category"),
            (10, "received_at"),
        ];
        assert_eq!(
            errs,
            want.iter()
                .map(|(r, c)| (*r, c.to_string()))
                .collect::<Vec<_>>()
        );
        assert!(rows[0].is_ok());
        let phone = rows[5].as_ref().unwrap_err();
        assert!(!phone.reason.contains("13900001111"), "{phone}");
        assert!(rows[6].as_ref().unwrap_err().reason.contains("5001"));
    }

    #[test]
    fn emoji_traditional_and_longest_text_are_kept() {
        let max = "長".repeat(OpinionText::MAX_CHARS);
        let csv = format!(
            "text,received_at\n\"警察先生👮，謝謝你們！\",2026-05-01 08:30\n{max},2026-05-01 08:30\n\"多行\n意見\",2026-05-01 09:00\n"
        );
        let rows = parse(&csv, Some(Channel::Forum));
        assert_eq!(
            rows[0].as_ref().unwrap().text.as_str(),
            "警察先生👮，謝謝你們！"
        );
        assert_eq!(
            rows[1].as_ref().unwrap().text.as_str().chars().count(),
            5000
        );
        assert_eq!(rows[2].as_ref().unwrap().text.as_str(), "多行\n意見");
        assert_eq!(rows[2].as_ref().unwrap().row, 4);
    }

    #[test]
    fn client_keys_are_stable_and_follow_the_external_id() {
        let a = parse(
            "text,received_at,external_id\nx,2026-05-01 08:30,7\ny,2026-05-02 08:30,7\nx,2026-05-01 08:30,\nx,2026-05-01 08:30,\n",
            Some(Channel::Visit),
        );
        let k: Vec<&str> = a
            .iter()
            .map(|r| r.as_ref().unwrap().client_key.as_str())
            .collect();
        assert!(k[0].starts_with("import:") && k[0].len() == 7 + 64);
        assert_eq!(k[0], k[1], "the same external id is the same opinion");
        assert_eq!(k[2], k[3], "identical rows without an id are one opinion");
        assert_ne!(k[0], k[2]);
        let b = parse(
            "text,received_at,external_id\nx,2026-05-01 08:30,7\n",
            Some(Channel::Forum),
        );
        assert_ne!(
            b[0].as_ref().unwrap().client_key,
            k[0],
            "ids are per channel"
        );
    }

    #[test]
    fn header_problems_refuse_the_file() {
        let t = table("text,channel\nx,visit\n");
        assert!(
            layout(&t.header, None)
                .unwrap_err()
                .to_string()
                .contains("received_at")
        );
        let t = table("text,received_at\nx,2026-05-01 08:30\n");
        assert!(
            layout(&t.header, None)
                .unwrap_err()
                .to_string()
                .contains("--channel")
        );
        let t = table("text,内容,received_at\n");
        assert!(
            layout(&t.header, Some(Channel::Visit))
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let t = table("text,received_at,备注\n");
        assert_eq!(
            layout(&t.header, Some(Channel::Visit)).unwrap().ignored,
            ["备注"]
        );
        assert!(read_csv(b"").is_err());
    }

    #[test]
    fn blank_rows_are_skipped_and_bad_utf8_is_one_row() {
        let mut bytes = b"text,received_at\nx,2026-05-01 08:30\n,\n".to_vec();
        bytes.extend(b"\xff\xfe,2026-05-01 08:30\n");
        let t = read_csv(&bytes).unwrap();
        let l = layout(&t.header, Some(Channel::Visit)).unwrap();
        let rows = parse_rows(&t, &l, Some(Channel::Visit), now());
        assert_eq!(rows.len(), 2);
        let e = rows[1].as_ref().unwrap_err();
        assert_eq!((e.row, e.column.as_str()), (4, "-"));
        assert!(e.reason.contains("UTF-8"));
    }

    #[test]
    fn received_at_forms() {
        let t = |s| parse_received_at(s);
        let want = Utc.with_ymd_and_hms(2026, 5, 1, 0, 30, 5).unwrap();
        assert_eq!(t("2026-05-01 08:30:05").unwrap(), want);
        assert_eq!(t("2026/05/01 08:30:05").unwrap(), want);
        assert_eq!(t("2026-05-01T00:30:05Z").unwrap(), want);
        assert!(t("2026-05-01").is_err());
        assert!(t("yesterday").is_err());
        assert_eq!(
            excel_serial(46143.5).as_deref(),
            Some("2026-05-01 12:00:00")
        );
    }

    #[test]
    fn labels_are_accepted_for_channel_and_category() {
        let rows = parse(
            "text,received_at,channel,category\nx,2026-05-01 08:30,走访,禁毒\n",
            None,
        );
        let r = rows[0].as_ref().unwrap();
        assert_eq!((r.channel, r.category), (Channel::Visit, Category::Drugs));
    }
}
