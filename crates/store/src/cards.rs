//! Contact cards and boards: counting QR scans per station and community, per day.
//!
//! A scan is a number and nothing else — no address, device or time of day is stored, so
//! the table can never tell who scanned. Which day a scan belongs to is the caller's rule
//! (`minyi_app::cards`); this module only adds and sums.

use sqlx::Row;

use crate::Store;
use crate::error::Result;

/// What a card's QR code names: a station (its own card and board) or an area (a
/// community's card).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanTarget {
    Unit,
    Area,
}

impl ScanTarget {
    pub fn code(self) -> &'static str {
        match self {
            ScanTarget::Unit => "unit",
            ScanTarget::Area => "area",
        }
    }

    fn parse(s: &str) -> Option<ScanTarget> {
        match s {
            "unit" => Some(ScanTarget::Unit),
            "area" => Some(ScanTarget::Area),
            _ => None,
        }
    }
}

/// Scans of one card target: since a given day, and ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanCount {
    pub target: ScanTarget,
    pub target_id: i64,
    pub recent: i64,
    pub total: i64,
}

/// Scans of every card belonging to one station (its own and its areas'), summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StationScans {
    pub station_id: i64,
    pub recent: i64,
    pub total: i64,
}

impl Store {
    /// Adds one scan to the target's count for the day (epoch-ms of the day's start).
    /// Concurrent scans of the same card add up: the increment happens in the database.
    pub async fn record_qr_scan(&self, target: ScanTarget, target_id: i64, day: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO qr_scans (target_kind, target_id, day, scans) VALUES ($1, $2, $3, 1) \
             ON CONFLICT (target_kind, target_id, day) DO UPDATE SET scans = qr_scans.scans + 1",
        )
        .bind(target.code())
        .bind(target_id)
        .bind(day)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The scans of a station's own card and of the cards of the areas it is responsible
    /// for: counted from day `since` (epoch-ms, inclusive) and in total. Targets never
    /// scanned are absent.
    pub async fn qr_scans_of_station(&self, station_id: i64, since: i64) -> Result<Vec<ScanCount>> {
        let rows = sqlx::query(
            "SELECT target_kind, target_id, \
               CAST(SUM(CASE WHEN day >= $1 THEN scans ELSE 0 END) AS BIGINT) AS recent, \
               CAST(SUM(scans) AS BIGINT) AS total \
             FROM qr_scans \
             WHERE (target_kind = 'unit' AND target_id = $2) \
                OR (target_kind = 'area' AND target_id IN (SELECT id FROM areas WHERE station_id = $2)) \
             GROUP BY target_kind, target_id ORDER BY target_kind DESC, target_id",
        )
        .bind(since)
        .bind(station_id)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let kind: String = r.try_get("target_kind")?;
            // Another kind can only come from a hand edit; it belongs to no card shown here.
            let Some(target) = ScanTarget::parse(&kind) else {
                continue;
            };
            out.push(ScanCount {
                target,
                target_id: r.try_get("target_id")?,
                recent: r.try_get("recent")?,
                total: r.try_get("total")?,
            });
        }
        Ok(out)
    }

    /// Per station, the scans of all its cards (own and its areas'): since day `since`
    /// and in total. Stations whose cards were never scanned are absent.
    pub async fn qr_scans_by_station(&self, since: i64) -> Result<Vec<StationScans>> {
        let rows = sqlx::query(
            "SELECT station_id, \
               CAST(SUM(CASE WHEN day >= $1 THEN scans ELSE 0 END) AS BIGINT) AS recent, \
               CAST(SUM(scans) AS BIGINT) AS total \
             FROM ( \
               SELECT s.target_id AS station_id, s.day, s.scans FROM qr_scans s \
                 WHERE s.target_kind = 'unit' \
               UNION ALL \
               SELECT a.station_id AS station_id, s.day, s.scans FROM qr_scans s \
                 JOIN areas a ON a.id = s.target_id \
                 WHERE s.target_kind = 'area' AND a.station_id IS NOT NULL \
             ) x GROUP BY station_id ORDER BY station_id",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StationScans {
                    station_id: r.try_get("station_id")?,
                    recent: r.try_get("recent")?,
                    total: r.try_get("total")?,
                })
            })
            .collect()
    }
}
