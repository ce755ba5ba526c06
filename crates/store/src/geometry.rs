//! Area boundaries for the map: one GeoJSON geometry (Polygon or MultiPolygon) per area,
//! kept as text in `areas.geometry`.
//!
//! Every geometry is checked by `minyi_core::geo` before it is written, so what is read
//! back always parses. This module stores and fetches; choosing which areas a person may
//! see, and matching imported features to areas, belong to `app`.

use minyi_core::geo::Geometry;
use sqlx::Row;

use crate::Store;
use crate::error::{Result, StoreError};

impl Store {
    /// Sets the boundary of each (area id, GeoJSON geometry) in one transaction: all are
    /// written or none is. An unknown area id or an invalid geometry refuses the whole
    /// batch, naming it. Returns how many areas were updated.
    pub async fn set_area_geometry(&self, items: &[(i64, String)]) -> Result<u64> {
        // Checked before the transaction opens, so a bad item costs no locks.
        let mut canonical = Vec::with_capacity(items.len());
        for (id, text) in items {
            let g = Geometry::parse_geojson(text).map_err(|e| {
                StoreError::Invalid(minyi_core::ParseError::Invalid {
                    what: "area geometry",
                    why: format!("area id {id}: {e}"),
                })
            })?;
            canonical.push((*id, g.to_geojson()));
        }
        let mut tx = self.pool().begin().await?;
        let mut updated = 0u64;
        for (id, text) in canonical {
            let n = sqlx::query("UPDATE areas SET geometry = $1 WHERE id = $2")
                .bind(text)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound {
                    what: format!("area id {id}"),
                });
            }
            updated += n;
        }
        tx.commit().await?;
        Ok(updated)
    }

    /// Every area that has a boundary, as (area id, GeoJSON geometry), ordered by id.
    pub async fn area_geometries(&self) -> Result<Vec<(i64, String)>> {
        sqlx::query("SELECT id, geometry FROM areas WHERE geometry IS NOT NULL ORDER BY id")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("geometry")?)))
            .collect()
    }
}
