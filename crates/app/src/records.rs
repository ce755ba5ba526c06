//! Importing 110 incidents, cases and permit transactions from the police systems, from a
//! CSV or XLSX export (`minyi import incidents|cases|permits FILE`) or the JSON API
//! (`POST /api/v1/incidents|cases|permits`). Formats: docs/formats.md.
//!
//! Every row names its record by the source system's external id. The first row for an
//! id creates the record; a later row for it applies what is new as events (filed,
//! solved, closed, a loss recovered, issued …: `minyi_core::records::*_changes` decide)
//! and the same row again changes nothing. A row that cannot be applied — unknown unit or
//! area, impossible timeline, data that contradicts the stored record — is rejected with
//! its row, column and reason; a record the callback rules would call someone about
//! (`minyi_core::callback::CallbackRules::calls_about`, the planner's own rule) but that
//! has no phone number is stored and flagged. Each row's record, events and contact are written
//! together or not at all; rows are written in batches, one transaction each.
//!
//! This module must not write SQL (that is `minyi_store`) nor decide what a row changes
//! (that is `minyi_core::records`). Reasons never quote a name or a phone number.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use minyi_core::PhoneNumber;
use minyi_core::access::Scope;
use minyi_core::callback::{CallbackRules, CallbackSubject};
use minyi_core::identity::ResidentName;
use minyi_core::org::UnitKind;
use minyi_core::records::{
    CallbackSource, CaseKind, Conflict, ImportedCase, ImportedIncident, ImportedPermit, NewCase,
    NewIncident, NewPermit, PermitKind, RecordChange, RecordFlags, case_changes, incident_changes,
    parse_yuan, permit_changes,
};
use minyi_core::taxonomy::{Category, DepartmentKind};
use minyi_store::{ImportRecord, NewContact, RecordWrite, StoredRecord};

use crate::audit::{AuditAction, record};
use crate::import::{RowError, Table, TableRow, parse_received_at, read_csv, read_xlsx};
use crate::privacy::{ContactInput, seal_with};
use crate::{App, AppError, Result};
use minyi_vault::Sealer;

/// Rows per batch (one transaction): large enough that a million rows take fifty commits —
/// each commit writes every index page the batch touched, and the contacts' phone hashes
/// touch pages all over their index, so twice the rows cost far less than twice the
/// writes — and small enough that a failure loses little and the progress bar moves.
pub const BATCH_ROWS: usize = 20_000;

/// Longest external id accepted.
pub const MAX_EXTERNAL_ID: usize = 64;
/// Longest incident summary accepted.
pub const MAX_SUMMARY: usize = 1_000;

/// Which records a file or request holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Incidents,
    Cases,
    Permits,
}

impl RecordKind {
    pub const ALL: &'static [RecordKind] = &[
        RecordKind::Incidents,
        RecordKind::Cases,
        RecordKind::Permits,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RecordKind::Incidents => "incidents",
            RecordKind::Cases => "cases",
            RecordKind::Permits => "permits",
        }
    }

    pub fn parse(s: &str) -> Option<RecordKind> {
        Self::ALL.iter().copied().find(|k| k.code() == s.trim())
    }

    /// The columns a file of this kind may have.
    pub fn columns(self) -> &'static [Col] {
        match self {
            RecordKind::Incidents => INCIDENT_COLS,
            RecordKind::Cases => CASE_COLS,
            RecordKind::Permits => PERMIT_COLS,
        }
    }
}

/// One column: its English code (used in every report and as the JSON field name), the
/// headers accepted for it (compared trimmed and lower-cased), and whether it is required.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub code: &'static str,
    pub aliases: &'static [&'static str],
    pub required: bool,
}

const fn col(code: &'static str, aliases: &'static [&'static str]) -> Col {
    Col {
        code,
        aliases,
        required: false,
    }
}

const fn req(code: &'static str, aliases: &'static [&'static str]) -> Col {
    Col {
        code,
        aliases,
        required: true,
    }
}

const PHONE: Col = col("phone", &["电话", "联系电话"]);
const DV: Col = col("domestic_violence", &["家庭暴力", "家暴"]);
const DANGER: Col = col("ongoing_danger", &["持续危险", "危险未消除"]);
const OPT_OUT: Col = col("notices_opt_out", &["不接收告知", "拒绝告知"]);
const AREA: Col = col("area", &["area_code", "村社代码"]);

pub const INCIDENT_COLS: &[Col] = &[
    req("external_id", &["警情编号", "编号"]),
    req("received_at", &["接警时间", "报警时间"]),
    col("unit", &["unit_code", "处警单位", "单位代码"]),
    AREA,
    col("category", &["类别", "警情类别"]),
    col("police_matter", &["公安类警情", "是否公安类"]),
    col("department", &["联动部门"]),
    col("summary", &["简要警情", "警情摘要"]),
    col("closed_at", &["办结时间", "处置完毕时间"]),
    col("resolved", &["是否解决", "已解决"]),
    col("name", &["报警人", "姓名", "联系人"]),
    col("phone", &["报警电话", "电话", "联系电话"]),
    DV,
    DANGER,
    OPT_OUT,
];

pub const CASE_COLS: &[Col] = &[
    req("external_id", &["案件编号", "编号"]),
    req("kind", &["案件类别"]),
    col("station", &["station_code", "办案单位", "派出所"]),
    AREA,
    req("reported_at", &["报案时间", "受案时间"]),
    col("filed_at", &["立案时间"]),
    col("investigator_assigned_at", &["确定办案民警时间"]),
    col("suspect_caught_at", &["抓获嫌疑人时间", "抓获时间"]),
    col("solved_at", &["破案时间"]),
    col("closed_at", &["结案时间"]),
    col("loss_yuan", &["损失金额", "损失"]),
    col("recovered_yuan", &["挽回金额", "追回金额"]),
    col("name", &["被害人", "姓名", "联系人"]),
    PHONE,
    DV,
    DANGER,
    OPT_OUT,
];

pub const PERMIT_COLS: &[Col] = &[
    req("external_id", &["受理编号", "编号"]),
    req("kind", &["业务类别", "证照类别"]),
    req("window", &["window_code", "办理窗口", "窗口代码"]),
    req("applied_at", &["受理时间", "申请时间"]),
    req("promised_at", &["承诺办结时间", "承诺时间"]),
    col("issued_at", &["办结时间", "发证时间"]),
    col("name", &["申请人", "姓名", "联系人"]),
    PHONE,
    OPT_OUT,
];

/// The header checked: which column is where, and which headers were ignored.
#[derive(Debug, Clone)]
pub struct Layout {
    index: HashMap<&'static str, usize>,
    pub ignored: Vec<String>,
}

/// Maps a header to the kind's columns. A missing required column or a column given
/// twice refuses the whole file.
pub fn layout(kind: RecordKind, header: &[String]) -> Result<Layout> {
    let cols = kind.columns();
    let mut index = HashMap::new();
    let mut ignored = Vec::new();
    for (i, h) in header.iter().enumerate() {
        let h = h.trim().trim_start_matches('\u{feff}').to_lowercase();
        if h.is_empty() {
            continue;
        }
        match cols
            .iter()
            .find(|c| c.code == h || c.aliases.contains(&h.as_str()))
        {
            Some(c) => {
                if index.insert(c.code, i).is_some() {
                    return Err(AppError::Invalid(format!(
                        "header: column `{}` appears twice (aliases: {})",
                        c.code,
                        c.aliases.join(", ")
                    )));
                }
            }
            None => ignored.push(h.chars().take(40).collect()),
        }
    }
    for c in cols.iter().filter(|c| c.required) {
        if !index.contains_key(c.code) {
            return Err(AppError::Invalid(format!(
                "header: required column `{}` is missing (accepted headers: {}, {})",
                c.code,
                c.code,
                c.aliases.join(", ")
            )));
        }
    }
    Ok(Layout { index, ignored })
}

/// Units and areas by code, and the scope rows must stay in (an API key's units).
pub struct Lookup {
    units: HashMap<String, (i64, UnitKind)>,
    areas: HashMap<String, (i64, Option<i64>)>,
    scope: Option<Arc<Scope>>,
}

impl Lookup {
    pub async fn load(app: &App, scope: Option<Arc<Scope>>) -> Result<Lookup> {
        let units = app
            .store
            .units()
            .await?
            .into_iter()
            .map(|u| (u.code.as_str().to_owned(), (u.id, u.kind)))
            .collect();
        let areas = app
            .store
            .areas()
            .await?
            .into_iter()
            .map(|a| (a.code.as_str().to_owned(), (a.id, a.station_id)))
            .collect();
        Ok(Lookup {
            units,
            areas,
            scope,
        })
    }
}

/// One data row's cells, by column code.
struct Cells<'a> {
    row: usize,
    cells: &'a [String],
    layout: &'a Layout,
}

type RowResult<T> = std::result::Result<T, RowError>;

impl Cells<'_> {
    fn err(&self, column: &str, reason: impl Into<String>) -> RowError {
        RowError {
            row: self.row,
            column: column.to_owned(),
            reason: reason.into(),
        }
    }

    fn get(&self, code: &str) -> Option<&str> {
        let i = *self.layout.index.get(code)?;
        self.cells
            .get(i)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    fn need(&self, code: &str) -> RowResult<&str> {
        self.get(code)
            .ok_or_else(|| self.err(code, "is empty; it is required"))
    }

    fn time(&self, code: &str) -> RowResult<Option<DateTime<Utc>>> {
        self.get(code)
            .map(|v| parse_received_at(v).map_err(|e| self.err(code, e)))
            .transpose()
    }

    fn need_time(&self, code: &str) -> RowResult<DateTime<Utc>> {
        parse_received_at(self.need(code)?).map_err(|e| self.err(code, e))
    }

    fn flag(&self, code: &str) -> RowResult<Option<bool>> {
        let Some(v) = self.get(code) else {
            return Ok(None);
        };
        match v.to_lowercase().as_str() {
            "1" | "true" | "yes" | "y" | "是" | "t" => Ok(Some(true)),
            "0" | "false" | "no" | "n" | "否" | "f" => Ok(Some(false)),
            _ => Err(self.err(
                code,
                format!(
                    "`{}` is not yes or no (1/0, true/false, 是/否)",
                    v.chars().take(20).collect::<String>()
                ),
            )),
        }
    }

    fn flags(&self) -> RowResult<RecordFlags> {
        Ok(RecordFlags {
            domestic_violence: self.flag("domestic_violence")?.unwrap_or(false),
            ongoing_danger: self.flag("ongoing_danger")?.unwrap_or(false),
            notices_opt_out: self.flag("notices_opt_out")?.unwrap_or(false),
        })
    }

    fn external_id(&self) -> RowResult<String> {
        let v = self.need("external_id")?;
        if v.chars().count() > MAX_EXTERNAL_ID {
            return Err(self.err(
                "external_id",
                format!("longer than {MAX_EXTERNAL_ID} characters"),
            ));
        }
        if v.chars().any(char::is_control) {
            return Err(self.err("external_id", "contains control characters"));
        }
        Ok(v.to_owned())
    }

    /// A vocabulary value by its code or its zh-CN label.
    fn vocab<T: Copy>(
        &self,
        code: &str,
        all: &[T],
        c: impl Fn(T) -> &'static str,
        label: impl Fn(T) -> &'static str,
    ) -> RowResult<Option<T>> {
        let Some(v) = self.get(code) else {
            return Ok(None);
        };
        let lower = v.to_ascii_lowercase();
        match all
            .iter()
            .copied()
            .find(|&x| c(x) == lower || label(x) == v)
        {
            Some(x) => Ok(Some(x)),
            None => Err(self.err(
                code,
                format!(
                    "unknown value `{}` (allowed: {})",
                    v.chars().take(40).collect::<String>(),
                    all.iter().map(|&x| c(x)).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    /// The person to call back. Values are checked but never quoted.
    fn contact(&self) -> RowResult<ContactInput> {
        Ok(ContactInput {
            name: self
                .get("name")
                .map(ResidentName::parse)
                .transpose()
                .map_err(|_| self.err("name", "not a valid name (1–50 characters)"))?,
            phone: self
                .get("phone")
                .map(PhoneNumber::parse)
                .transpose()
                .map_err(|_| {
                    self.err(
                        "phone",
                        "not a valid phone number (a mainland mobile or fixed-line number)",
                    )
                })?,
            id_number: None,
            address: None,
        })
    }

    fn unit(&self, code: &str, lookup: &Lookup) -> RowResult<Option<(i64, UnitKind)>> {
        let Some(v) = self.get(code) else {
            return Ok(None);
        };
        match lookup.units.get(v) {
            Some(&u) => Ok(Some(u)),
            None => Err(self.err(
                code,
                format!("unknown unit `{}`", v.chars().take(40).collect::<String>()),
            )),
        }
    }

    /// The area's id and its station.
    fn area(&self, lookup: &Lookup) -> RowResult<Option<(i64, Option<i64>)>> {
        let Some(v) = self.get("area") else {
            return Ok(None);
        };
        match lookup.areas.get(v) {
            Some(&a) => Ok(Some(a)),
            None => Err(self.err(
                "area",
                format!("unknown area `{}`", v.chars().take(40).collect::<String>()),
            )),
        }
    }

    fn in_scope(&self, column: &str, unit_id: i64, lookup: &Lookup) -> RowResult<()> {
        match &lookup.scope {
            Some(s) if !s.contains(unit_id) => Err(self.err(
                column,
                "the unit is outside the units this API key may import for",
            )),
            _ => Ok(()),
        }
    }
}

/// A row checked and resolved: the record, the contact sealed, the row number.
pub struct Parsed<T> {
    pub row: usize,
    pub record: T,
    pub contact: Option<NewContact>,
    pub has_phone: bool,
}

/// The rules of one kind of record, for the generic import loop.
trait Kind: ImportRecord {
    fn parse(c: &Cells<'_>, lookup: &Lookup) -> RowResult<(Self, ContactInput)>;
    fn changes(
        stored: Option<&Self>,
        row: &Self,
        now: DateTime<Utc>,
    ) -> std::result::Result<(Self, Vec<RecordChange>), Conflict>;
    /// What the callback rules look at to say whether anyone will be called about this
    /// record (and so whether it needs a phone number): `CallbackRules::calls_about`.
    fn callback_subject(&self) -> CallbackSubject;
    fn flags(&self) -> RecordFlags;
}

fn timeline(c: &Cells<'_>, e: minyi_core::ParseError) -> RowError {
    c.err("-", format!("impossible timeline: {e}"))
}

impl Kind for ImportedIncident {
    fn parse(c: &Cells<'_>, lookup: &Lookup) -> RowResult<(Self, ContactInput)> {
        let external_id = c.external_id()?;
        let received_at = c.need_time("received_at")?;
        let category = c
            .vocab(
                "category",
                Category::ALL,
                Category::code,
                Category::label_zh,
            )?
            .unwrap_or(Category::Other);
        let police_matter = c.flag("police_matter")?.unwrap_or(true);
        let department = c.vocab(
            "department",
            DepartmentKind::ALL,
            DepartmentKind::code,
            DepartmentKind::label_zh,
        )?;
        let summary = c.get("summary").unwrap_or("").to_owned();
        if summary.chars().count() > MAX_SUMMARY {
            return Err(c.err("summary", format!("longer than {MAX_SUMMARY} characters")));
        }
        let area = c.area(lookup)?;
        let unit = c.unit("unit", lookup)?;
        let unit_id = match (unit, area) {
            (Some((id, _)), _) => Some(id),
            (None, Some((_, Some(station)))) => Some(station),
            (None, _) if police_matter => {
                return Err(c.err(
                    "unit",
                    "is empty and no area with a station is given; a police matter needs its handling unit",
                ));
            }
            (None, _) => None,
        };
        if let Some(u) = unit_id {
            c.in_scope(if unit.is_some() { "unit" } else { "area" }, u, lookup)?;
        } else if lookup.scope.is_some() {
            return Err(c.err(
                "unit",
                "is empty; an API key may import only records of its own units",
            ));
        }
        let incident = NewIncident {
            external_id,
            received_at,
            area_id: area.map(|a| a.0),
            unit_id,
            category,
            police_matter,
            department,
            summary,
            closed_at: c.time("closed_at")?,
            resolved: c.flag("resolved")?,
            synthetic: false,
        };
        incident.check().map_err(|e| timeline(c, e))?;
        Ok((
            ImportedIncident {
                incident,
                flags: c.flags()?,
            },
            c.contact()?,
        ))
    }

    fn changes(
        stored: Option<&Self>,
        row: &Self,
        _now: DateTime<Utc>,
    ) -> std::result::Result<(Self, Vec<RecordChange>), Conflict> {
        incident_changes(stored, row)
    }

    fn callback_subject(&self) -> CallbackSubject {
        CallbackSubject::new(
            CallbackSource::Incident,
            self.incident.police_matter,
            self.flags,
        )
    }

    fn flags(&self) -> RecordFlags {
        self.flags
    }
}

impl Kind for ImportedCase {
    fn parse(c: &Cells<'_>, lookup: &Lookup) -> RowResult<(Self, ContactInput)> {
        let external_id = c.external_id()?;
        let kind = c
            .vocab("kind", CaseKind::ALL, CaseKind::code, CaseKind::label_zh)?
            .ok_or_else(|| c.err("kind", "is empty; it is required"))?;
        let area = c.area(lookup)?;
        let station_id = match (c.unit("station", lookup)?, area) {
            (Some((id, UnitKind::Station)), _) => {
                c.in_scope("station", id, lookup)?;
                id
            }
            (Some((_, k)), _) => {
                return Err(c.err(
                    "station",
                    format!("is a {}, not a police station", k.code()),
                ));
            }
            (None, Some((_, Some(station)))) => {
                c.in_scope("area", station, lookup)?;
                station
            }
            (None, _) => {
                return Err(c.err("station", "is empty and no area with a station is given"));
            }
        };
        let amount = |code: &str| -> RowResult<i64> {
            c.get(code)
                .map(|v| parse_yuan(v).map_err(|e| c.err(code, e.to_string())))
                .transpose()
                .map(|v| v.unwrap_or(0))
        };
        let case = ImportedCase {
            case: NewCase {
                external_id,
                kind,
                station_id,
                area_id: area.map(|a| a.0),
                reported_at: c.need_time("reported_at")?,
                filed_at: c.time("filed_at")?,
                solved_at: c.time("solved_at")?,
                closed_at: c.time("closed_at")?,
                loss_fen: amount("loss_yuan")?,
                recovered_fen: amount("recovered_yuan")?,
                synthetic: false,
            },
            investigator_assigned_at: c.time("investigator_assigned_at")?,
            suspect_caught_at: c.time("suspect_caught_at")?,
            flags: c.flags()?,
        };
        case.check().map_err(|e| timeline(c, e))?;
        Ok((case, c.contact()?))
    }

    fn changes(
        stored: Option<&Self>,
        row: &Self,
        now: DateTime<Utc>,
    ) -> std::result::Result<(Self, Vec<RecordChange>), Conflict> {
        case_changes(stored, row, now)
    }

    fn callback_subject(&self) -> CallbackSubject {
        CallbackSubject::new(CallbackSource::Case, true, self.flags)
    }

    fn flags(&self) -> RecordFlags {
        self.flags
    }
}

impl Kind for ImportedPermit {
    fn parse(c: &Cells<'_>, lookup: &Lookup) -> RowResult<(Self, ContactInput)> {
        let external_id = c.external_id()?;
        let kind = c
            .vocab(
                "kind",
                PermitKind::ALL,
                PermitKind::code,
                PermitKind::label_zh,
            )?
            .ok_or_else(|| c.err("kind", "is empty; it is required"))?;
        let window_id = match c.unit("window", lookup)? {
            Some((id, UnitKind::Window)) => id,
            Some((_, k)) => {
                return Err(c.err("window", format!("is a {}, not a service window", k.code())));
            }
            None => return Err(c.err("window", "is empty; it is required")),
        };
        c.in_scope("window", window_id, lookup)?;
        let permit = NewPermit {
            external_id,
            kind,
            window_id,
            applied_at: c.need_time("applied_at")?,
            promised_at: c.need_time("promised_at")?,
            issued_at: c.time("issued_at")?,
            synthetic: false,
        };
        permit.check().map_err(|e| timeline(c, e))?;
        Ok((
            ImportedPermit {
                permit,
                flags: RecordFlags {
                    notices_opt_out: c.flag("notices_opt_out")?.unwrap_or(false),
                    ..RecordFlags::default()
                },
            },
            c.contact()?,
        ))
    }

    fn changes(
        stored: Option<&Self>,
        row: &Self,
        _now: DateTime<Utc>,
    ) -> std::result::Result<(Self, Vec<RecordChange>), Conflict> {
        permit_changes(stored, row)
    }

    fn callback_subject(&self) -> CallbackSubject {
        CallbackSubject::new(CallbackSource::Permit, true, self.flags)
    }

    fn flags(&self) -> RecordFlags {
        self.flags
    }
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct RecordReport {
    pub kind: Option<RecordKind>,
    /// Data rows read (blank rows are skipped and not counted).
    pub rows: usize,
    /// Records created.
    pub created: usize,
    /// Rows that changed a stored record (or one created earlier in the same import).
    pub changed: usize,
    /// Rows that repeated what was stored.
    pub unchanged: usize,
    /// Events written (one per change).
    pub events: usize,
    /// Contacts stored.
    pub contacts: usize,
    pub rejected: Vec<RowError>,
    /// Stored, with a warning: a record that would get a callback has no phone number.
    pub flagged: Vec<RowError>,
    pub ignored_columns: Vec<String>,
    pub dry_run: bool,
}

/// Who imports, for the audit log and the events, and within which units.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub actor: String,
    pub scope: Option<Arc<Scope>>,
    pub dry_run: bool,
}

/// Rows of a file, read as they are needed.
pub type RowIter = Box<dyn Iterator<Item = TableRow> + Send>;

/// Opens a CSV (UTF-8, a BOM allowed; streamed, so a million rows need little memory) or
/// an XLSX file (its first sheet). Returns the header, the rows and an estimate of their
/// number for a progress bar.
pub fn open_file(path: &Path) -> Result<(Vec<String>, RowIter, usize)> {
    let shown = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("csv") => {
            let lines = {
                let mut f = std::fs::File::open(path)
                    .map_err(|e| AppError::Invalid(format!("cannot read {shown}: {e}")))?;
                let mut buf = vec![0u8; 1 << 20];
                let mut n = 0usize;
                loop {
                    let k = f
                        .read(&mut buf)
                        .map_err(|e| AppError::Invalid(format!("cannot read {shown}: {e}")))?;
                    if k == 0 {
                        break;
                    }
                    n += buf[..k].iter().filter(|&&b| b == b'\n').count();
                }
                n.saturating_sub(1)
            };
            let f = std::fs::File::open(path)
                .map_err(|e| AppError::Invalid(format!("cannot read {shown}: {e}")))?;
            let (header, rows) = csv_rows(std::io::BufReader::with_capacity(1 << 20, f))
                .map_err(|e| AppError::Invalid(format!("{shown}: {e}")))?;
            Ok((header, rows, lines))
        }
        Some("xlsx") => {
            let t = read_xlsx(path).map_err(|e| AppError::Invalid(format!("{shown}: {e}")))?;
            let n = t.rows.len();
            Ok((t.header, Box::new(t.rows.into_iter()), n))
        }
        _ => Err(AppError::Invalid(format!(
            "{shown}: expected a .csv or .xlsx file"
        ))),
    }
}

/// A streaming CSV reader with the opinion import's rules: a BOM is skipped, a row that is
/// not UTF-8 is refused by itself, broken CSV ends the file with an error row.
pub fn csv_rows<R: std::io::Read + Send + 'static>(
    mut input: R,
) -> std::result::Result<(Vec<String>, RowIter), String> {
    let mut first = [0u8; 3];
    let mut got = 0;
    while got < 3 {
        match input.read(&mut first[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) => return Err(format!("cannot read: {e}")),
        }
    }
    let head: Vec<u8> = if first[..got] == *b"\xEF\xBB\xBF" {
        Vec::new()
    } else {
        first[..got].to_vec()
    };
    let reader = std::io::Cursor::new(head).chain(input);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    let header = match reader.read_byte_record(&mut record) {
        Ok(true) => record
            .iter()
            .map(|f| {
                std::str::from_utf8(f).map(str::to_owned).map_err(|_| {
                    "header row: not UTF-8 text (save the file as CSV UTF-8)".to_owned()
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()?,
        Ok(false) => return Err("the file is empty; a header row is required".into()),
        Err(e) => return Err(format!("row 1: not valid CSV: {e}")),
    };
    let mut n = 1usize;
    let mut broken = false;
    let iter = std::iter::from_fn(move || {
        if broken {
            return None;
        }
        let mut record = csv::ByteRecord::new();
        n += 1;
        match reader.read_byte_record(&mut record) {
            Ok(false) => None,
            Ok(true) => Some(TableRow {
                row: n,
                cells: record
                    .iter()
                    .map(|f| {
                        std::str::from_utf8(f)
                            .map(str::to_owned)
                            .map_err(|_| "not UTF-8 text (save the file as CSV UTF-8)".to_owned())
                    })
                    .collect(),
            }),
            Err(e) => {
                broken = true;
                Some(TableRow {
                    row: n,
                    cells: Err(format!(
                        "not valid CSV ({e}); the rest of the file was not read"
                    )),
                })
            }
        }
    });
    Ok((header, Box::new(iter)))
}

/// CSV bytes (the whole file in memory) as header and rows: for tests and small uploads.
pub fn table_rows(bytes: &[u8]) -> std::result::Result<(Vec<String>, RowIter), String> {
    let t: Table = read_csv(bytes)?;
    Ok((t.header, Box::new(t.rows.into_iter())))
}

/// Imports a file of `kind` (see [`open_file`]); `progress` gets the rows handled so far.
pub async fn import_file(
    app: &App,
    kind: RecordKind,
    path: &Path,
    opts: &ImportOptions,
    now: DateTime<Utc>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<RecordReport> {
    let (header, rows, _) = open_file(path)?;
    import_rows(app, kind, &header, rows, opts, now, progress).await
}

/// Imports rows of `kind`: checks the header, then every row, and writes in batches of
/// [`BATCH_ROWS`], each one transaction; records one `import` audit entry with counts.
pub async fn import_rows(
    app: &App,
    kind: RecordKind,
    header: &[String],
    rows: RowIter,
    opts: &ImportOptions,
    now: DateTime<Utc>,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<RecordReport> {
    let layout = layout(kind, header)?;
    let lookup = Lookup::load(app, opts.scope.clone()).await?;
    let mut report = RecordReport {
        kind: Some(kind),
        ignored_columns: layout.ignored.clone(),
        dry_run: opts.dry_run,
        ..RecordReport::default()
    };
    match kind {
        RecordKind::Incidents => {
            run::<ImportedIncident>(
                app,
                layout.clone(),
                lookup,
                rows,
                opts,
                now,
                progress,
                &mut report,
            )
            .await?
        }
        RecordKind::Cases => {
            run::<ImportedCase>(
                app,
                layout.clone(),
                lookup,
                rows,
                opts,
                now,
                progress,
                &mut report,
            )
            .await?
        }
        RecordKind::Permits => {
            run::<ImportedPermit>(
                app,
                layout.clone(),
                lookup,
                rows,
                opts,
                now,
                progress,
                &mut report,
            )
            .await?
        }
    }
    if !opts.dry_run {
        record(
            app,
            now,
            &opts.actor,
            AuditAction::Import,
            kind.code(),
            &format!(
                "rows={} created={} changed={} unchanged={} events={} rejected={} flagged={}",
                report.rows,
                report.created,
                report.changed,
                report.unchanged,
                report.events,
                report.rejected.len(),
                report.flagged.len()
            ),
        )
        .await?;
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn run<T: Kind>(
    app: &App,
    layout: Layout,
    lookup: Lookup,
    rows: RowIter,
    opts: &ImportOptions,
    now: DateTime<Utc>,
    progress: &(dyn Fn(usize) + Sync),
    report: &mut RecordReport,
) -> Result<()> {
    // A reader thread reads the rows in batches and checks each batch and seals its
    // contacts on every core (sealing is most of an import's work), while this task
    // writes the batch before it, one transaction each: reading and writing overlap. At
    // most one prepared batch waits, so memory stays bounded; if a write fails, the
    // channel closes and the reader stops.
    let sealer = app.key.sealer();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Prepared<T>>>(1);
    let reader = std::thread::Builder::new()
        .name("import-reader".into())
        .spawn(move || {
            let mut rows = rows;
            loop {
                let read: Vec<TableRow> = rows.by_ref().take(BATCH_ROWS).collect();
                if read.is_empty() {
                    break;
                }
                let prepared = prepare_all::<T>(&read, &layout, &lookup, &sealer);
                if tx.blocking_send(prepared).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| AppError::Refused(format!("cannot start the import reader: {e}")))?;
    let mut handled = 0usize;
    let mut outcome = Ok(());
    while let Some(prepared) = rx.recv().await {
        let mut batch: Vec<Parsed<T>> = Vec::with_capacity(prepared.len());
        for p in prepared {
            match p {
                Prepared::Blank => continue,
                Prepared::Rejected(e) => report.rejected.push(e),
                Prepared::Parsed(p) => batch.push(p),
            }
            report.rows += 1;
            handled += 1;
        }
        if let Err(e) = flush(app, &mut batch, opts, now, report).await {
            outcome = Err(e);
            break;
        }
        progress(handled);
    }
    // Closing the channel ends a reader still blocked on sending.
    drop(rx);
    if let Err(panic) = reader.join() {
        std::panic::resume_unwind(panic);
    }
    outcome
}

/// One row read: blank (skipped, not counted), rejected, or checked with its contact sealed.
// Nearly every row is `Parsed`: boxing it would add an allocation per row for nothing.
#[allow(clippy::large_enum_variant)]
enum Prepared<T> {
    Blank,
    Rejected(RowError),
    Parsed(Parsed<T>),
}

fn prepare<T: Kind>(
    r: &TableRow,
    layout: &Layout,
    lookup: &Lookup,
    sealer: &Sealer,
) -> Prepared<T> {
    let cells = match &r.cells {
        Ok(c) => c,
        Err(e) => {
            return Prepared::Rejected(RowError {
                row: r.row,
                column: "-".into(),
                reason: e.clone(),
            });
        }
    };
    if cells.iter().all(|c| c.trim().is_empty()) {
        return Prepared::Blank;
    }
    let c = Cells {
        row: r.row,
        cells,
        layout,
    };
    match T::parse(&c, lookup) {
        Ok((record, contact)) => Prepared::Parsed(Parsed {
            row: r.row,
            record,
            has_phone: contact.phone.is_some(),
            contact: (!contact.is_empty()).then(|| seal_with(sealer, &contact)),
        }),
        Err(e) => Prepared::Rejected(e),
    }
}

/// Below this many rows a batch is prepared on the calling thread.
const PARALLEL_FROM_ROWS: usize = 1_000;

/// [`prepare`] for every row, in row order, split over the machine's cores. Rows are
/// independent (the data key is shared read-only), so the result is the same as one
/// thread's.
fn prepare_all<T: Kind>(
    rows: &[TableRow],
    layout: &Layout,
    lookup: &Lookup,
    sealer: &Sealer,
) -> Vec<Prepared<T>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads <= 1 || rows.len() < PARALLEL_FROM_ROWS {
        return rows
            .iter()
            .map(|r| prepare(r, layout, lookup, sealer))
            .collect();
    }
    let per = rows.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = rows
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|r| prepare::<T>(r, layout, lookup, sealer))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// How one row came out, decided inside the batch's transaction.
#[derive(Default)]
struct Tally {
    created: usize,
    changed: usize,
    unchanged: usize,
    rejected: Vec<RowError>,
    flagged: Vec<RowError>,
}

/// Decides the writes of a batch against the stored records: each external id gets at
/// most one write, which collects every row for it in file order.
fn plan<T: Kind>(
    rules: &CallbackRules,
    batch: Vec<Parsed<T>>,
    mut stored: HashMap<String, StoredRecord<T>>,
    now: DateTime<Utc>,
    tally: &mut Tally,
) -> Vec<RecordWrite<T>> {
    let mut writes: Vec<RecordWrite<T>> = Vec::new();
    // External id → its write in `writes`.
    let mut write_of: HashMap<String, usize> = HashMap::new();
    for p in batch {
        let ext = p.record.external_id().to_owned();
        let (current, has_contact) = match write_of.get(&ext) {
            Some(&w) => (
                Some(&writes[w].record),
                writes[w].contact.is_some() || stored.get(&ext).is_some_and(|s| s.has_contact),
            ),
            None => match stored.get(&ext) {
                Some(s) => (Some(&s.record), s.has_contact),
                None => (None, false),
            },
        };
        let is_new = current.is_none();
        let before_flags = current.map(|c| c.flags());
        let (merged, changes) = match T::changes(current, &p.record, now) {
            Ok(x) => x,
            Err(c) => {
                tally.rejected.push(RowError {
                    row: p.row,
                    column: c.column.to_owned(),
                    reason: format!("conflicts with the stored record: {}", c.why),
                });
                continue;
            }
        };
        let contact = if has_contact { None } else { p.contact };
        let phone_on_file = has_contact || p.has_phone;
        if is_new {
            tally.created += 1;
            if rules.calls_about(&merged.callback_subject()) && !phone_on_file {
                tally.flagged.push(RowError {
                    row: p.row,
                    column: "phone".into(),
                    reason:
                        "no phone number: stored, but no callback or notice can reach this person"
                            .into(),
                });
            }
        } else if changes.is_empty() && contact.is_none() && before_flags == Some(merged.flags()) {
            tally.unchanged += 1;
            continue;
        } else {
            tally.changed += 1;
        }
        match write_of.get(&ext) {
            Some(&w) => {
                let wr = &mut writes[w];
                wr.record = merged;
                wr.changes.extend(changes);
                if wr.contact.is_none() {
                    wr.contact = contact;
                }
            }
            None => {
                write_of.insert(ext.clone(), writes.len());
                writes.push(RecordWrite {
                    id: stored.remove(&ext).map(|s| s.id),
                    record: merged,
                    contact,
                    changes,
                });
            }
        }
    }
    writes
}

async fn flush<T: Kind>(
    app: &App,
    batch: &mut Vec<Parsed<T>>,
    opts: &ImportOptions,
    now: DateTime<Utc>,
    report: &mut RecordReport,
) -> Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let batch = std::mem::take(batch);
    let first_row = batch[0].row;
    let mut ids: Vec<String> = batch
        .iter()
        .map(|p| p.record.external_id().to_owned())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut tally = Tally::default();
    if opts.dry_run {
        let stored = app.store.stored_records::<T>(&ids).await?;
        let writes = plan(&app.config.callbacks, batch, stored, now, &mut tally);
        report.events += writes.iter().map(|w| w.changes.len()).sum::<usize>();
        report.contacts += writes.iter().filter(|w| w.contact.is_some()).count();
    } else {
        let done = app
            .store
            .apply_records::<T, _>(&ids, &opts.actor, now, |stored| {
                plan(&app.config.callbacks, batch, stored, now, &mut tally)
            })
            .await
            .map_err(|e| {
                AppError::Invalid(format!(
                    "the batch starting at row {first_row} was not stored (earlier batches were; importing the file again is safe): {e}"
                ))
            })?;
        report.events += done.events;
        report.contacts += done.contacts;
    }
    report.created += tally.created;
    report.changed += tally.changed;
    report.unchanged += tally.unchanged;
    report.rejected.extend(tally.rejected);
    report.flagged.extend(tally.flagged);
    report.rejected.sort_by_key(|e| e.row);
    report.flagged.sort_by_key(|e| e.row);
    Ok(())
}

/// JSON records (one object or an array of objects, field names = column codes) as rows
/// for [`import_rows`]; row numbers count objects from 1. Strings, numbers and booleans
/// are accepted as cell values, `null` as empty.
pub fn json_rows(
    kind: RecordKind,
    body: &serde_json::Value,
) -> std::result::Result<(Vec<String>, RowIter), String> {
    let items: Vec<&serde_json::Value> = match body {
        serde_json::Value::Array(a) => a.iter().collect(),
        o @ serde_json::Value::Object(_) => vec![o],
        _ => return Err("expected a JSON object or an array of objects".into()),
    };
    if items.is_empty() {
        return Err("the array is empty".into());
    }
    if items.len() > 10_000 {
        return Err(format!(
            "{} records in one request; send at most 10000",
            items.len()
        ));
    }
    let header: Vec<String> = kind.columns().iter().map(|c| c.code.to_owned()).collect();
    let mut rows = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let row = i + 1;
        let cells = match item {
            serde_json::Value::Object(map) => {
                let unknown: Vec<&String> = map
                    .keys()
                    .filter(|k| !header.iter().any(|h| h == *k))
                    .collect();
                if let Some(k) = unknown.first() {
                    Err(format!(
                        "unknown field `{}` (allowed: {})",
                        k.chars().take(40).collect::<String>(),
                        header.join(", ")
                    ))
                } else {
                    header
                        .iter()
                        .map(|h| match map.get(h) {
                            None | Some(serde_json::Value::Null) => Ok(String::new()),
                            Some(serde_json::Value::String(s)) => Ok(s.clone()),
                            Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
                            Some(serde_json::Value::Bool(b)) => Ok(b.to_string()),
                            Some(_) => {
                                Err(format!("field `{h}` must be a string, number or boolean"))
                            }
                        })
                        .collect()
                }
            }
            _ => Err("not a JSON object".into()),
        };
        rows.push(TableRow { row, cells });
    }
    Ok((header, Box::new(rows.into_iter())))
}
