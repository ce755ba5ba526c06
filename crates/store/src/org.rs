//! Units, areas and officers.

use std::collections::HashMap;

use minyi_core::org::{AreaKind, NewArea, NewOfficer, NewUnit, OfficerRole, UnitKind, WindowKind};
use minyi_core::taxonomy::DepartmentKind;
use minyi_core::{Code, ParseError};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::Store;
use crate::bulk::{add, insert_all};
use crate::error::{Result, StoreError};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnitRow {
    pub id: i64,
    pub code: Code,
    pub kind: UnitKind,
    pub name: String,
    pub parent_id: Option<i64>,
    pub window: Option<WindowKind>,
    pub department: Option<DepartmentKind>,
    pub synthetic: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AreaRow {
    pub id: i64,
    pub code: Code,
    pub kind: AreaKind,
    pub name: String,
    pub parent_id: Option<i64>,
    pub station_id: Option<i64>,
    pub population: i64,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub synthetic: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OfficerRow {
    pub id: i64,
    pub unit_id: i64,
    pub name: String,
    pub role: OfficerRole,
    /// A public duty phone (shown on contact cards), not a resident's number.
    pub duty_phone: Option<String>,
    pub synthetic: bool,
}

fn code(r: &AnyRow, col: &str) -> Result<Code> {
    Ok(Code::parse(&r.try_get::<String, _>(col)?)?)
}

fn opt<T>(r: &AnyRow, col: &str, parse: fn(&str) -> Result<T, ParseError>) -> Result<Option<T>> {
    r.try_get::<Option<String>, _>(col)?
        .map(|s| parse(&s).map_err(StoreError::from))
        .transpose()
}

fn unit_row(r: &AnyRow) -> Result<UnitRow> {
    Ok(UnitRow {
        id: r.try_get("id")?,
        code: code(r, "code")?,
        kind: UnitKind::parse(&r.try_get::<String, _>("kind")?)?,
        name: r.try_get("name")?,
        parent_id: r.try_get("parent_id")?,
        window: opt(r, "window_kind", WindowKind::parse)?,
        department: opt(r, "department", DepartmentKind::parse)?,
        synthetic: r.try_get::<i64, _>("synthetic")? != 0,
    })
}

fn area_row(r: &AnyRow) -> Result<AreaRow> {
    Ok(AreaRow {
        id: r.try_get("id")?,
        code: code(r, "code")?,
        kind: AreaKind::parse(&r.try_get::<String, _>("kind")?)?,
        name: r.try_get("name")?,
        parent_id: r.try_get("parent_id")?,
        station_id: r.try_get("station_id")?,
        population: r.try_get("population")?,
        lon: r.try_get("lon")?,
        lat: r.try_get("lat")?,
        synthetic: r.try_get::<i64, _>("synthetic")? != 0,
    })
}

const UNIT_COLS: &str = "id, code, kind, name, parent_id, window_kind, department, synthetic";
const AREA_COLS: &str =
    "id, code, kind, name, parent_id, station_id, population, lon, lat, synthetic";

impl Store {
    /// Inserts units in order, in one transaction. A parent must exist already or come
    /// earlier in the slice, and must be allowed to contain the child's kind.
    pub async fn insert_units(&self, units: &[NewUnit]) -> Result<Vec<i64>> {
        let mut known: HashMap<String, (i64, UnitKind)> = self
            .units()
            .await?
            .into_iter()
            .map(|u| (u.code.to_string(), (u.id, u.kind)))
            .collect();
        let mut tx = self.pool().begin().await?;
        let mut ids = Vec::with_capacity(units.len());
        for u in units {
            u.check()?;
            let parent_id = match &u.parent {
                None => None,
                Some(p) => {
                    let &(id, kind) =
                        known.get(p.as_str()).ok_or_else(|| StoreError::NotFound {
                            what: format!("parent unit {p} of {}", u.code),
                        })?;
                    if !kind.may_contain(u.kind) {
                        return Err(ParseError::Invalid {
                            what: "unit",
                            why: format!("{} ({}) cannot sit under {p} ({kind})", u.code, u.kind),
                        }
                        .into());
                    }
                    Some(id)
                }
            };
            let id: i64 = sqlx::query(
                "INSERT INTO units (code, kind, name, parent_id, window_kind, department, synthetic) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(u.code.to_string())
            .bind(u.kind.code())
            .bind(u.name.trim().to_owned())
            .bind(parent_id)
            .bind(u.window.map(|w| w.code()))
            .bind(u.department.map(|d| d.code()))
            .bind(u.synthetic as i64)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            known.insert(u.code.to_string(), (id, u.kind));
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// All units, ordered by code.
    pub async fn units(&self) -> Result<Vec<UnitRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {UNIT_COLS} FROM units ORDER BY {}",
            self.code_order()
        ));
        sqlx::query(sql)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(unit_row)
            .collect()
    }

    /// Every unit as (id, parent_id), for computing an account's subtree scope.
    pub async fn unit_tree(&self) -> Result<Vec<(i64, Option<i64>)>> {
        sqlx::query("SELECT id, parent_id FROM units ORDER BY id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("parent_id")?)))
            .collect()
    }

    pub async fn unit_by_code(&self, code: &str) -> Result<Option<UnitRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {UNIT_COLS} FROM units WHERE code = $1"));
        sqlx::query(sql)
            .bind(code.to_owned())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(unit_row)
            .transpose()
    }

    pub async fn unit(&self, id: i64) -> Result<Option<UnitRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {UNIT_COLS} FROM units WHERE id = $1"));
        sqlx::query(sql)
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(unit_row)
            .transpose()
    }

    pub async fn area_by_code(&self, code: &str) -> Result<Option<AreaRow>> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {AREA_COLS} FROM areas WHERE code = $1"));
        sqlx::query(sql)
            .bind(code.to_owned())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(area_row)
            .transpose()
    }

    /// Inserts areas in order; a parent and a responsible station must exist already
    /// (or, for parents, come earlier in the slice).
    pub async fn insert_areas(&self, areas: &[NewArea]) -> Result<Vec<i64>> {
        let stations: HashMap<String, (i64, UnitKind)> = self
            .units()
            .await?
            .into_iter()
            .map(|u| (u.code.to_string(), (u.id, u.kind)))
            .collect();
        let mut known: HashMap<String, (i64, AreaKind)> = self
            .areas()
            .await?
            .into_iter()
            .map(|a| (a.code.to_string(), (a.id, a.kind)))
            .collect();
        let mut tx = self.pool().begin().await?;
        let mut ids = Vec::with_capacity(areas.len());
        for a in areas {
            a.check()?;
            let parent_id = match &a.parent {
                None => None,
                Some(p) => {
                    let &(id, kind) =
                        known.get(p.as_str()).ok_or_else(|| StoreError::NotFound {
                            what: format!("parent area {p} of {}", a.code),
                        })?;
                    if !kind.may_contain(a.kind) {
                        return Err(ParseError::Invalid {
                            what: "area",
                            why: format!("{} ({}) cannot sit under {p} ({kind})", a.code, a.kind),
                        }
                        .into());
                    }
                    Some(id)
                }
            };
            let station_id = match &a.station {
                None => None,
                Some(s) => match stations.get(s.as_str()) {
                    Some(&(id, UnitKind::Station)) => Some(id),
                    Some(_) => {
                        return Err(ParseError::Invalid {
                            what: "area",
                            why: format!("{}: responsible unit {s} is not a station", a.code),
                        }
                        .into());
                    }
                    None => {
                        return Err(StoreError::NotFound {
                            what: format!("station {s} for area {}", a.code),
                        });
                    }
                },
            };
            let id: i64 = sqlx::query(
                // The coordinates are always bound as numbers with a flag beside them: a
                // NULL bound first would fix the prepared statement's parameter type to
                // something PostgreSQL then refuses a later number for.
                "INSERT INTO areas (code, kind, name, parent_id, station_id, population, lon, lat, synthetic) \
                 VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $10 = 1 THEN $7 ELSE NULL END, \
                 CASE WHEN $10 = 1 THEN $8 ELSE NULL END, $9) RETURNING id",
            )
            .bind(a.code.to_string())
            .bind(a.kind.code())
            .bind(a.name.trim().to_owned())
            .bind(parent_id)
            .bind(station_id)
            .bind(a.population as i64)
            .bind(a.centre.map_or(0.0, |c| c.lon))
            .bind(a.centre.map_or(0.0, |c| c.lat))
            .bind(a.synthetic as i64)
            .bind(i64::from(a.centre.is_some()))
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
            known.insert(a.code.to_string(), (id, a.kind));
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// All areas, ordered by code.
    pub async fn areas(&self) -> Result<Vec<AreaRow>> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {AREA_COLS} FROM areas ORDER BY {}",
            self.code_order()
        ));
        sqlx::query(sql)
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(area_row)
            .collect()
    }

    /// Codes sort bytewise on both backends (PostgreSQL would otherwise use the locale).
    fn code_order(&self) -> &'static str {
        match self.backend() {
            crate::Backend::Sqlite => "code",
            crate::Backend::Postgres => "code COLLATE \"C\"",
        }
    }

    /// Inserts officers; each names an existing unit by code.
    pub async fn insert_officers(&self, officers: &[NewOfficer]) -> Result<u64> {
        let units: HashMap<String, i64> = self
            .units()
            .await?
            .into_iter()
            .map(|u| (u.code.to_string(), u.id))
            .collect();
        let mut rows = Vec::with_capacity(officers.len());
        for o in officers {
            minyi_core::org::check_name("officer name", &o.name)?;
            let unit_id = *units
                .get(o.unit.as_str())
                .ok_or_else(|| StoreError::NotFound {
                    what: format!("unit {} of officer", o.unit),
                })?;
            rows.push((unit_id, o));
        }
        insert_all(
            self,
            "officers",
            &["unit_id", "name", "role", "duty_phone", "synthetic"],
            &rows,
            &|(unit_id, o), a| {
                add(a, *unit_id)?;
                add(a, o.name.trim().to_owned())?;
                add(a, o.role.code())?;
                add(a, o.duty_phone.as_ref().map(|p| p.as_str().to_owned()))?;
                add(a, o.synthetic as i64)
            },
        )
        .await
    }

    /// Officers of a unit, chief first.
    pub async fn officer(&self, id: i64) -> Result<Option<OfficerRow>> {
        let row = sqlx::query(
            "SELECT id, unit_id, name, role, duty_phone, synthetic FROM officers WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(OfficerRow {
                id: r.try_get("id")?,
                unit_id: r.try_get("unit_id")?,
                name: r.try_get("name")?,
                role: OfficerRole::parse(&r.try_get::<String, _>("role")?)?,
                duty_phone: r.try_get("duty_phone")?,
                synthetic: r.try_get::<i64, _>("synthetic")? != 0,
            })
        })
        .transpose()
    }

    pub async fn officers_of(&self, unit_id: i64) -> Result<Vec<OfficerRow>> {
        let rows = sqlx::query(
            "SELECT id, unit_id, name, role, duty_phone, synthetic FROM officers WHERE unit_id = $1 ORDER BY id",
        )
        .bind(unit_id)
        .fetch_all(self.pool())
        .await?;
        let mut out = rows
            .iter()
            .map(|r| {
                Ok(OfficerRow {
                    id: r.try_get("id")?,
                    unit_id: r.try_get("unit_id")?,
                    name: r.try_get("name")?,
                    role: OfficerRole::parse(&r.try_get::<String, _>("role")?)?,
                    duty_phone: r.try_get("duty_phone")?,
                    synthetic: r.try_get::<i64, _>("synthetic")? != 0,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by_key(|o| (OfficerRole::ALL.iter().position(|&r| r == o.role), o.id));
        Ok(out)
    }
}
