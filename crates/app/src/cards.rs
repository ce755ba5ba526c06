//! Contact cards and boards (警民联系卡、公示牌) for every station and community: what a
//! card says (the place, its station, the chief and a duty phone, the bureau, the reply
//! promise and the address its QR code opens), the print sheet of a station, counting a
//! scan, and presetting the residents' form to the scanned place.
//!
//! Staff reads are scoped to the principal like `scoped` (a foreign place is `NotFound`);
//! the scan and the form preset are public and name only what a printed card shows anyway.
//! It must not draw anything (the web crate lays the card out) nor store who scanned.

use chrono::{DateTime, Utc};
use minyi_core::Code;
use minyi_core::access::{Permission, Role, Scope};
use minyi_core::opinion::default_response_working_days;
use minyi_core::org::{AreaKind, OfficerRole, UnitKind};
use minyi_core::taxonomy::{Category, Urgency};
use minyi_store::{AreaRow, OfficerRow, ScanTarget, UnitRow};

use crate::auth::Principal;
use crate::{App, AppError, Result};

/// The scan counts shown beside the cards cover this many days up to today.
pub const RECENT_DAYS: i64 = 30;

const DAY_MS: i64 = 86_400_000;

/// Everything printed on one card or board.
#[derive(Debug, Clone)]
pub struct CardContent {
    /// A station's own card (`Unit`) or a community's (`Area`).
    pub target: ScanTarget,
    pub code: Code,
    /// The station's name, or the community's.
    pub name: String,
    /// For a community card: what kind of area it is.
    pub area_kind: Option<AreaKind>,
    /// The responsible station (the card's own unit for a station card).
    pub station: UnitRow,
    pub chief: Option<OfficerRow>,
    pub instructor: Option<OfficerRow>,
    /// The number residents should call, grouped for reading (see [`display_phone`]):
    /// the chief's duty phone, else the first other officer's of the station that has one.
    pub duty_phone: Option<String>,
    /// The station's community police officers (names), for the station's board.
    pub community_officers: Vec<String>,
    /// The root of the unit tree (the city bureau), and the county bureau above the station.
    pub bureau: String,
    pub county_bureau: Option<String>,
    /// The absolute address the QR code opens.
    pub scan_url: String,
    /// Working days within which an ordinary opinion is answered (the tracking promise).
    pub reply_days: u32,
    /// Built from the demo city: the card must say so.
    pub synthetic: bool,
}

/// One line of a station's scan counts.
#[derive(Debug, Clone)]
pub struct ScanLine {
    pub target: ScanTarget,
    pub code: Code,
    pub name: String,
    /// Scans in the last [`RECENT_DAYS`] days, today included.
    pub recent: i64,
    pub total: i64,
}

/// What the print page of a unit shows.
#[derive(Debug, Clone)]
pub enum PrintSheet {
    /// A station: its card and board, its communities' cards, and their scan counts.
    Station {
        card: Box<CardContent>,
        communities: Vec<CardContent>,
        scans: Vec<ScanLine>,
    },
    /// Any other unit: the stations below it (in scope), each with its scans summed.
    Stations {
        unit: UnitRow,
        stations: Vec<(UnitRow, i64, i64)>,
    },
}

/// A stored phone number grouped the way it is read aloud and dialled: a landline as
/// area code and number (`0875-2123456`; Beijing's `010` and the `02x` cities have
/// three-digit codes), a mobile as 3-4-4 (`137 0000 1111`). Anything else is shown as
/// stored.
pub fn display_phone(stored: &str) -> String {
    let digits: String = stored.chars().filter(char::is_ascii_digit).collect();
    let plain = stored
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '-' | ' '));
    if !plain {
        return stored.to_owned();
    }
    if digits.len() == 11 && digits.starts_with('1') {
        return format!("{} {} {}", &digits[..3], &digits[3..7], &digits[7..]);
    }
    if digits.starts_with('0') && (10..=12).contains(&digits.len()) {
        let area = if digits.starts_with("01") || digits.starts_with("02") {
            3
        } else {
            4
        };
        return format!("{}-{}", &digits[..area], &digits[area..]);
    }
    stored.to_owned()
}

/// The path a card's QR code opens, below the public base URL.
pub fn scan_path(target: ScanTarget, code: &Code) -> String {
    let k = match target {
        ScanTarget::Unit => "u",
        ScanTarget::Area => "a",
    };
    format!("/q/{k}/{code}")
}

/// The absolute address printed in a card's QR code.
pub fn scan_url(app: &App, target: ScanTarget, code: &Code) -> String {
    format!(
        "{}{}",
        app.config.public_base_url(),
        scan_path(target, code)
    )
}

/// The start (epoch-ms) of the Asia/Shanghai day `at` falls in: scans are counted per
/// local day, as staff read them.
pub fn day_start(at: DateTime<Utc>) -> i64 {
    let offset = i64::from(minyi_core::calendar::SHANGHAI_OFFSET_SECONDS) * 1000;
    let local = at.timestamp_millis() + offset;
    local.div_euclid(DAY_MS) * DAY_MS - offset
}

/// The first day inside the recent window ending today.
fn recent_since(now: DateTime<Utc>) -> i64 {
    day_start(now) - (RECENT_DAYS - 1) * DAY_MS
}

fn is_station(u: &UnitRow) -> bool {
    u.kind == UnitKind::Station
}

fn not_a_station(u: &UnitRow) -> AppError {
    AppError::Invalid(format!(
        "{} ({}) is not a police station: contact cards are made for stations and their communities",
        u.name, u.code
    ))
}

/// The card of a station in the principal's scope.
pub async fn unit_card(app: &App, p: &Principal, code: &str) -> Result<CardContent> {
    p.require(Permission::ViewOpinions)?;
    let u = app
        .store
        .unit_by_code(code.trim())
        .await?
        .ok_or(AppError::NotFound)?;
    if !p.scope.contains(u.id) {
        return Err(AppError::NotFound);
    }
    if !is_station(&u) {
        return Err(not_a_station(&u));
    }
    station_card(app, u).await
}

/// The card of a community (any area with a responsible station) in the principal's scope.
pub async fn area_card(app: &App, p: &Principal, code: &str) -> Result<CardContent> {
    p.require(Permission::ViewOpinions)?;
    // Liaisons see matters routed to their department, not places (as on the area page).
    if p.role == Role::DepartmentLiaison {
        return Err(AppError::NotFound);
    }
    let area = app
        .store
        .area_by_code(code.trim())
        .await?
        .ok_or(AppError::NotFound)?;
    match area.station_id {
        Some(s) if p.scope.contains(s) => {
            let station = app.store.unit(s).await?.ok_or(AppError::NotFound)?;
            community_card(app, &area, station).await
        }
        Some(_) => Err(AppError::NotFound),
        None => {
            // A county has no station of its own: say so to whoever may see the county,
            // and nothing to anyone else.
            let areas = app.store.areas().await?;
            let tree: Vec<(i64, Option<i64>)> = areas.iter().map(|a| (a.id, a.parent_id)).collect();
            let sub = Scope::subtree(area.id, &tree);
            let visible = areas
                .iter()
                .any(|a| sub.contains(a.id) && a.station_id.is_some_and(|s| p.scope.contains(s)));
            if visible {
                Err(AppError::Invalid(format!(
                    "{} ({}) has no responsible station: cards are made for townships, villages and communities",
                    area.name, area.code
                )))
            } else {
                Err(AppError::NotFound)
            }
        }
    }
}

/// The print sheet of a unit in the principal's scope.
pub async fn print_sheet(
    app: &App,
    p: &Principal,
    code: &str,
    now: DateTime<Utc>,
) -> Result<PrintSheet> {
    p.require(Permission::ViewOpinions)?;
    let u = app
        .store
        .unit_by_code(code.trim())
        .await?
        .ok_or(AppError::NotFound)?;
    if !p.scope.contains(u.id) {
        return Err(AppError::NotFound);
    }
    let since = recent_since(now);
    if !is_station(&u) {
        let units = app.store.units().await?;
        let tree: Vec<(i64, Option<i64>)> = units.iter().map(|x| (x.id, x.parent_id)).collect();
        let sub = Scope::subtree(u.id, &tree);
        let scans = app.store.qr_scans_by_station(since).await?;
        let stations = units
            .into_iter()
            .filter(|x| is_station(x) && sub.contains(x.id) && p.scope.contains(x.id))
            .map(|x| {
                let (recent, total) = scans
                    .iter()
                    .find(|s| s.station_id == x.id)
                    .map_or((0, 0), |s| (s.recent, s.total));
                (x, recent, total)
            })
            .collect();
        return Ok(PrintSheet::Stations { unit: u, stations });
    }
    let card = station_card(app, u.clone()).await?;
    let areas = station_areas(app, u.id).await?;
    let mut communities = Vec::with_capacity(areas.len());
    for a in &areas {
        communities.push(community_card_with(app, a, &card));
    }
    let counts = app.store.qr_scans_of_station(u.id, since).await?;
    let count = |target: ScanTarget, id: i64| {
        counts
            .iter()
            .find(|c| c.target == target && c.target_id == id)
            .map_or((0, 0), |c| (c.recent, c.total))
    };
    let mut scans = Vec::with_capacity(areas.len() + 1);
    let (recent, total) = count(ScanTarget::Unit, u.id);
    scans.push(ScanLine {
        target: ScanTarget::Unit,
        code: u.code.clone(),
        name: u.name.clone(),
        recent,
        total,
    });
    for a in &areas {
        let (recent, total) = count(ScanTarget::Area, a.id);
        scans.push(ScanLine {
            target: ScanTarget::Area,
            code: a.code.clone(),
            name: a.name.clone(),
            recent,
            total,
        });
    }
    Ok(PrintSheet::Station {
        card: Box::new(card),
        communities,
        scans,
    })
}

/// Where a scan lands: the station, and the area the form starts with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanLanding {
    pub station: Code,
    pub area: Option<Code>,
}

/// Counts one scan of a card and says how to preset the form. Unknown codes, units that
/// are not stations and areas without a station are `NotFound` and count nothing.
pub async fn record_scan(
    app: &App,
    target: ScanTarget,
    code: &str,
    now: DateTime<Utc>,
) -> Result<ScanLanding> {
    let code = code.trim();
    let (id, landing) = match target {
        ScanTarget::Unit => {
            let u = app
                .store
                .unit_by_code(code)
                .await?
                .filter(is_station)
                .ok_or(AppError::NotFound)?;
            let area = home_area(&station_areas(app, u.id).await?).map(|a| a.code.clone());
            (
                u.id,
                ScanLanding {
                    station: u.code,
                    area,
                },
            )
        }
        ScanTarget::Area => {
            let a = app
                .store
                .area_by_code(code)
                .await?
                .ok_or(AppError::NotFound)?;
            let s = a.station_id.ok_or(AppError::NotFound)?;
            let station = app.store.unit(s).await?.ok_or(AppError::NotFound)?;
            (
                a.id,
                ScanLanding {
                    station: station.code,
                    area: Some(a.code),
                },
            )
        }
    };
    app.store.record_qr_scan(target, id, day_start(now)).await?;
    Ok(landing)
}

/// The residents' form started from a card: the station and the places it serves.
#[derive(Debug, Clone)]
pub struct FormPreset {
    pub station_code: Code,
    pub station_name: String,
    /// The station's areas, townships before the villages in them (by code).
    pub areas: Vec<(Code, String, AreaKind)>,
    /// The area chosen, when it is one of the station's.
    pub selected: Option<Code>,
}

/// Resolves a form preset from what a scan put in the address (or a resident edited).
/// Anything that does not resolve gives `None` — the plain form — never an error, since
/// a preset only saves the resident from choosing.
pub async fn form_preset(
    app: &App,
    station: Option<&str>,
    area: Option<&str>,
) -> Result<Option<FormPreset>> {
    let clean = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|s| Code::parse(s).ok())
    };
    let (station, area) = (clean(station), clean(area));
    let area_row = match &area {
        Some(c) => app.store.area_by_code(c.as_str()).await?,
        None => None,
    };
    let station_row = match &station {
        Some(c) => app.store.unit_by_code(c.as_str()).await?,
        None => match area_row.as_ref().and_then(|a| a.station_id) {
            Some(id) => app.store.unit(id).await?,
            None => None,
        },
    };
    let Some(s) = station_row.filter(is_station) else {
        return Ok(None);
    };
    let areas = station_areas(app, s.id).await?;
    let selected = area_row
        .filter(|a| a.station_id == Some(s.id))
        .map(|a| a.code);
    Ok(Some(FormPreset {
        station_code: s.code,
        station_name: s.name,
        areas: areas
            .into_iter()
            .map(|a| (a.code, a.name, a.kind))
            .collect(),
        selected,
    }))
}

/// Areas a station is responsible for, in code order (a township before its villages).
async fn station_areas(app: &App, station_id: i64) -> Result<Vec<AreaRow>> {
    let mut areas: Vec<AreaRow> = app
        .store
        .areas()
        .await?
        .into_iter()
        .filter(|a| a.station_id == Some(station_id))
        .collect();
    areas.sort_by(|a, b| a.code.as_str().cmp(b.code.as_str()));
    Ok(areas)
}

/// The area a station's own card presets: the widest one it serves (a township before a
/// village), the first by code among equals.
fn home_area(areas: &[AreaRow]) -> Option<&AreaRow> {
    let rank = |k: AreaKind| AreaKind::ALL.iter().position(|x| *x == k);
    areas.iter().min_by(|a, b| {
        rank(a.kind)
            .cmp(&rank(b.kind))
            .then_with(|| a.code.as_str().cmp(b.code.as_str()))
    })
}

async fn station_card(app: &App, station: UnitRow) -> Result<CardContent> {
    let officers = app.store.officers_of(station.id).await?;
    let role = |r: OfficerRole| officers.iter().find(|o| o.role == r).cloned();
    let chief = role(OfficerRole::Chief);
    let duty_phone = chief
        .as_ref()
        .and_then(|c| c.duty_phone.as_deref())
        .or_else(|| officers.iter().find_map(|o| o.duty_phone.as_deref()))
        .map(display_phone);
    let county = match station.parent_id {
        Some(id) => app.store.unit(id).await?,
        None => None,
    };
    let mut root = county.clone();
    let mut hops = 0;
    while let Some(parent) = root.as_ref().and_then(|u| u.parent_id)
        && hops < 10
    {
        root = app.store.unit(parent).await?;
        hops += 1;
    }
    let bureau = root
        .as_ref()
        .map(|u| u.name.clone())
        .unwrap_or_else(|| app.config.security.bureau_name.clone());
    let county_bureau = county
        .filter(|c| c.kind == UnitKind::CountyBureau)
        .map(|c| c.name);
    Ok(CardContent {
        target: ScanTarget::Unit,
        code: station.code.clone(),
        name: station.name.clone(),
        area_kind: None,
        chief,
        instructor: role(OfficerRole::Instructor),
        duty_phone,
        community_officers: officers
            .iter()
            .filter(|o| o.role == OfficerRole::CommunityOfficer)
            .map(|o| o.name.clone())
            .collect(),
        bureau,
        county_bureau,
        scan_url: scan_url(app, ScanTarget::Unit, &station.code),
        reply_days: default_response_working_days(Category::Other, Urgency::Normal),
        synthetic: station.synthetic,
        station,
    })
}

async fn community_card(app: &App, area: &AreaRow, station: UnitRow) -> Result<CardContent> {
    let base = station_card(app, station).await?;
    Ok(community_card_with(app, area, &base))
}

/// A community's card from its station's: the same people, the community's name and QR.
fn community_card_with(app: &App, area: &AreaRow, station: &CardContent) -> CardContent {
    CardContent {
        target: ScanTarget::Area,
        code: area.code.clone(),
        name: area.name.clone(),
        area_kind: Some(area.kind),
        scan_url: scan_url(app, ScanTarget::Area, &area.code),
        synthetic: area.synthetic || station.synthetic,
        ..station.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn days_are_shanghai_days() {
        // 2026-04-01 23:30 in Shanghai is 15:30 UTC; 00:30 the next day is 16:30 UTC.
        let late = Utc.with_ymd_and_hms(2026, 4, 1, 15, 30, 0).unwrap();
        let early = Utc.with_ymd_and_hms(2026, 4, 1, 16, 30, 0).unwrap();
        let midnight = Utc.with_ymd_and_hms(2026, 3, 31, 16, 0, 0).unwrap();
        assert_eq!(day_start(late), midnight.timestamp_millis());
        assert_eq!(day_start(early), midnight.timestamp_millis() + DAY_MS);
        assert_eq!(recent_since(late), day_start(late) - 29 * DAY_MS);
    }

    #[test]
    fn phones_are_grouped_for_reading() {
        assert_eq!(display_phone("08752123456"), "0875-2123456");
        assert_eq!(display_phone("0875-2123456"), "0875-2123456");
        assert_eq!(display_phone("01012345678"), "010-12345678");
        assert_eq!(display_phone("02188886666"), "021-88886666");
        assert_eq!(display_phone("13700001111"), "137 0000 1111");
        assert_eq!(display_phone("110"), "110");
        assert_eq!(display_phone("+86 137"), "+86 137");
    }

    #[test]
    fn scan_paths() {
        let c = Code::parse("A-LY-01-003").unwrap();
        assert_eq!(scan_path(ScanTarget::Area, &c), "/q/a/A-LY-01-003");
        assert_eq!(scan_path(ScanTarget::Unit, &c), "/q/u/A-LY-01-003");
    }

    #[test]
    fn home_area_prefers_the_township() {
        let row = |code: &str, kind| AreaRow {
            id: 1,
            code: Code::parse(code).unwrap(),
            kind,
            name: code.into(),
            parent_id: None,
            station_id: Some(1),
            population: 1,
            lon: None,
            lat: None,
            synthetic: true,
        };
        let areas = [
            row("A-1-001", AreaKind::Village),
            row("A-2", AreaKind::Township),
            row("A-1", AreaKind::Township),
        ];
        assert_eq!(home_area(&areas).unwrap().code.as_str(), "A-1");
        assert!(home_area(&[]).is_none());
    }
}
