//! Ratings from window rating devices (评价器), stored so that a device's retries are
//! answered item by item: each rating is either new (stored) or already there (duplicate).
//!
//! The device's namespace is the caller's: it hands over client event ids already made
//! unique per device. Which level, reason or time is acceptable is decided before this
//! module; it must not judge ratings, only store them atomically and count them.

use minyi_core::records::NewRating;
use sqlx::Row;

use crate::error::{Result, StoreError};
use crate::{Store, ms};

const RATING_INSERT: &str = "INSERT INTO ratings \
     (window_id, channel, device, client_event_id, scale, level, reason, rated_at, synthetic) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING";

impl Store {
    /// Stores a device's batch in ONE transaction and says, per rating in order, whether it
    /// was new (`true`) or its client event id was already stored (`false`, nothing
    /// changed). A rating repeated inside the batch is new once and a duplicate after.
    ///
    /// Every rating must carry a client event id: without one a retry could not be told
    /// from a new rating, which is exactly what this path exists to prevent.
    pub async fn insert_device_ratings(&self, ratings: &[NewRating]) -> Result<Vec<bool>> {
        if let Some(i) = ratings.iter().position(|r| r.client_event_id.is_none()) {
            return Err(StoreError::Corrupt(format!(
                "device rating {i} of the batch has no client event id"
            )));
        }
        let mut tx = self.pool().begin().await?;
        let mut out = Vec::with_capacity(ratings.len());
        // One statement per rating, so each answers for itself; a batch is at most a few
        // hundred rows, and all of them commit or none.
        for r in ratings {
            let n = sqlx::query(RATING_INSERT)
                .bind(r.window_id)
                .bind(r.channel.code())
                .bind(r.device.clone())
                .bind(r.client_event_id.clone())
                .bind(r.level.scale.levels() as i64)
                .bind(r.level.level as i64)
                .bind(r.reason.clone())
                .bind(ms(r.rated_at))
                .bind(r.synthetic as i64)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            out.push(n == 1);
        }
        tx.commit().await?;
        Ok(out)
    }

    /// How many ratings a device has stored (the `device` column).
    pub async fn count_device_ratings(&self, device: &str) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM ratings WHERE device = $1")
            .bind(device.to_owned())
            .fetch_one(self.pool())
            .await?;
        Ok(r.try_get("n")?)
    }

    /// How many ratings a window holds, from every channel.
    pub async fn count_window_ratings(&self, window_id: i64) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM ratings WHERE window_id = $1")
            .bind(window_id)
            .fetch_one(self.pool())
            .await?;
        Ok(r.try_get("n")?)
    }
}
