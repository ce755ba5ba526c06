//! Window rating devices (评价器): ratings bound to a device token, synced offline-safe.
//!
//! A device is an API key of purpose `kiosk` issued for one window unit. It queues ratings
//! while offline and sends them in batches, each rating carrying the device's own client
//! event id; this module checks every rating on its own (a bad one never sinks the batch),
//! puts the good ones into the key's namespace (`<key id>:<client event id>`) so two
//! devices cannot collide, and has the store keep all of them in one transaction. A retry
//! of a stored rating is answered `duplicate` and changes nothing.
//!
//! It must not speak HTTP: the web layer turns JSON into [`RatingItem`]s and outcomes back.

use chrono::{DateTime, Duration, Utc};
use minyi_core::error::ParseError;
use minyi_core::org::UnitKind;
use minyi_core::records::{NewRating, RatingLevel, RatingScale};
use minyi_core::taxonomy::Channel;
use minyi_store::UnitRow;

use crate::auth::Machine;
use crate::{App, AppError, Result};

/// The most ratings one request may carry; a device with more sends several batches.
pub const MAX_BATCH: usize = 200;
/// A rating stamped further ahead than this is a device clock gone wrong.
pub const MAX_FUTURE_MINUTES: i64 = 5;
/// A rating stamped further back than this is a device clock gone wrong (a tablet that
/// lost its battery wakes up in 1970), not a month-long outage.
pub const MAX_AGE_DAYS: i64 = 30;

/// Why a resident was dissatisfied: a few large preset buttons, no typing at a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingReason {
    Waiting,
    Attitude,
    UnclearRequirements,
    RepeatedTrips,
    Other,
}

impl RatingReason {
    pub const ALL: &'static [RatingReason] = &[
        RatingReason::Waiting,
        RatingReason::Attitude,
        RatingReason::UnclearRequirements,
        RatingReason::RepeatedTrips,
        RatingReason::Other,
    ];

    /// The stable code, stored in `ratings.reason` and sent by devices.
    pub fn code(self) -> &'static str {
        match self {
            RatingReason::Waiting => "waiting",
            RatingReason::Attitude => "attitude",
            RatingReason::UnclearRequirements => "unclear_requirements",
            RatingReason::RepeatedTrips => "repeated_trips",
            RatingReason::Other => "other",
        }
    }

    pub fn parse(code: &str) -> std::result::Result<RatingReason, ParseError> {
        RatingReason::ALL
            .iter()
            .copied()
            .find(|r| r.code() == code.trim())
            .ok_or_else(|| ParseError::UnknownCode {
                what: "rating reason",
                got: code.chars().take(40).collect(),
                allowed: RatingReason::ALL
                    .iter()
                    .map(|r| r.code())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// `[kiosk]` in `minyi.toml`: every key optional.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KioskFile {
    /// 3 (满意 / 基本满意 / 不满意) or 5 (非常满意 … 非常不满意).
    pub scale: Option<i64>,
    /// Reason codes offered after a dissatisfied rating, in the order shown; `[]` asks none.
    pub reasons: Option<Vec<String>>,
}

/// What every rating device shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KioskConfig {
    pub scale: RatingScale,
    pub reasons: Vec<RatingReason>,
}

impl Default for KioskConfig {
    fn default() -> Self {
        KioskConfig {
            scale: RatingScale::Three,
            reasons: RatingReason::ALL.to_vec(),
        }
    }
}

impl KioskConfig {
    /// Reads `[kiosk]`; the message names the key (`kiosk.scale`, `kiosk.reasons`).
    pub fn from_file(f: &KioskFile) -> std::result::Result<KioskConfig, String> {
        let mut c = KioskConfig::default();
        if let Some(s) = f.scale {
            c.scale = scale_of(s).ok_or_else(|| format!("kiosk.scale = {s}: use 3 or 5"))?;
        }
        if let Some(list) = &f.reasons {
            let mut reasons = Vec::with_capacity(list.len());
            for code in list {
                let r = RatingReason::parse(code).map_err(|e| format!("kiosk.reasons: {e}"))?;
                if reasons.contains(&r) {
                    return Err(format!("kiosk.reasons: `{code}` is listed twice"));
                }
                reasons.push(r);
            }
            c.reasons = reasons;
        }
        Ok(c)
    }
}

fn scale_of(n: i64) -> Option<RatingScale> {
    match n {
        3 => Some(RatingScale::Three),
        5 => Some(RatingScale::Five),
        _ => None,
    }
}

/// A device's own id for one rating: 8–64 characters of `A-Za-z0-9_-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEventId(String);

impl ClientEventId {
    pub fn parse(s: &str) -> std::result::Result<ClientEventId, ParseError> {
        let n = s.chars().count();
        if !(8..=64).contains(&n) {
            return Err(ParseError::Invalid {
                what: "client_event_id",
                why: format!("{n} characters; use 8 to 64"),
            });
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(ParseError::Invalid {
                what: "client_event_id",
                why: "only A-Z, a-z, 0-9, `_` and `-` are allowed".into(),
            });
        }
        Ok(ClientEventId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One rating as a device sent it, before any check.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingItem {
    pub client_event_id: Option<String>,
    /// The scale the resident saw (3 or 5); absent means the configured scale.
    pub scale: Option<i64>,
    pub level: Option<i64>,
    pub reason: Option<String>,
    pub rated_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// New: stored now.
    Stored,
    /// This device already sent this client event id; nothing changed.
    Duplicate,
    /// Never stored; resending it cannot help. `problem` says why.
    Rejected,
}

/// The answer for one rating of a batch, in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ItemOutcome {
    pub index: usize,
    /// As sent (when it was a string of sensible length), so the device can match it.
    pub client_event_id: Option<String>,
    pub status: ItemStatus,
    /// For `rejected`: a stable code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For `stored`/`duplicate`: what was changed on the way in (`reason_ignored`,
    /// `rated_at_replaced`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<&'static str>,
}

/// What a device needs to show its buttons.
#[derive(Debug, Clone)]
pub struct DeviceConfig {
    pub window: UnitRow,
    pub scale: RatingScale,
    pub reasons: Vec<RatingReason>,
    /// The key's prefix, shown on the setup screen so staff can match device and key.
    pub device: String,
    /// Ratings this device has stored so far.
    pub stored: i64,
}

/// The `device` column of this machine's ratings.
pub fn device_name(m: &Machine) -> String {
    m.actor()
}

/// The window unit the key is bound to. A kiosk key bound to any other unit is refused
/// (`Refused`), so a misissued key is found when the device is set up, not in the figures.
pub async fn window_of(app: &App, m: &Machine) -> Result<UnitRow> {
    let unit = app.store.unit(m.unit_id).await?.ok_or_else(|| {
        AppError::Refused(format!(
            "the unit of device key {} no longer exists; issue a new key for a window",
            m.prefix
        ))
    })?;
    if unit.kind != UnitKind::Window {
        return Err(AppError::Refused(format!(
            "device key {} is bound to {} ({}), a {}, not a service window: only a window (服务窗口) holds ratings; \
             issue a kiosk key for the window unit",
            m.prefix,
            unit.name,
            unit.code.as_str(),
            unit.kind.label_zh()
        )));
    }
    Ok(unit)
}

pub async fn device_config(app: &App, m: &Machine) -> Result<DeviceConfig> {
    let window = window_of(app, m).await?;
    let stored = app.store.count_device_ratings(&device_name(m)).await?;
    Ok(DeviceConfig {
        window,
        scale: app.config.kiosk.scale,
        reasons: app.config.kiosk.reasons.clone(),
        device: m.prefix.clone(),
        stored,
    })
}

/// Checks one item; `Ok` is the rating to store and the notes to report with it.
fn check_item(
    config: &KioskConfig,
    window_id: i64,
    device: &str,
    key_id: i64,
    item: &RatingItem,
    now: DateTime<Utc>,
) -> std::result::Result<(NewRating, Vec<&'static str>), (&'static str, String)> {
    let id = item
        .client_event_id
        .as_deref()
        .ok_or((
            "invalid_client_event_id",
            "client_event_id is missing".into(),
        ))
        .and_then(|s| {
            ClientEventId::parse(s).map_err(|e| ("invalid_client_event_id", e.to_string()))
        })?;
    let scale = match item.scale {
        None => config.scale,
        Some(n) => scale_of(n).ok_or(("invalid_scale", format!("scale {n}: use 3 or 5")))?,
    };
    let level = item
        .level
        .ok_or(("invalid_level", "level is missing".to_owned()))
        .and_then(|l| RatingLevel::parse(scale, l).map_err(|e| ("invalid_level", e.to_string())))?;
    let mut notes = Vec::new();
    let reason = match item
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        None => None,
        Some(code) => {
            let r = RatingReason::parse(code).map_err(|e| ("unknown_reason", e.to_string()))?;
            // A reason explains dissatisfaction; on any other level it would be read as a
            // complaint that was never made, so the rating is kept and the reason dropped.
            if level.is_dissatisfied() {
                Some(r.code().to_owned())
            } else {
                notes.push("reason_ignored");
                None
            }
        }
    };
    let rated_at = match item.rated_at.as_deref() {
        None => None,
        Some(s) => Some(
            DateTime::parse_from_rfc3339(s.trim())
                .map_err(|e| {
                    (
                        "invalid_rated_at",
                        format!(
                            "rated_at `{}`: {e}; use RFC 3339",
                            s.chars().take(40).collect::<String>()
                        ),
                    )
                })?
                .with_timezone(&Utc),
        ),
    };
    let rated_at = match rated_at {
        Some(t)
            if t <= now + Duration::minutes(MAX_FUTURE_MINUTES)
                && t >= now - Duration::days(MAX_AGE_DAYS) =>
        {
            t
        }
        // The resident's verdict is real even when the tablet's clock is not: keep it,
        // stamped with the time it arrived, and say so.
        _ => {
            notes.push("rated_at_replaced");
            now
        }
    };
    Ok((
        NewRating {
            window_id,
            channel: Channel::RatingDevice,
            device: Some(device.to_owned()),
            client_event_id: Some(format!("{key_id}:{}", id.as_str())),
            level,
            reason,
            rated_at,
            synthetic: false,
        },
        notes,
    ))
}

/// Stores a device's batch: every item answered in order, all accepted items in one
/// transaction. `items` holds, per rating, either the parsed item or why it could not be
/// read at all (wrong JSON types). Refuses the whole batch when it is too large or the
/// key is not bound to a window.
pub async fn submit_batch(
    app: &App,
    m: &Machine,
    items: Vec<(Option<String>, std::result::Result<RatingItem, String>)>,
    now: DateTime<Utc>,
) -> Result<Vec<ItemOutcome>> {
    if items.len() > MAX_BATCH {
        return Err(AppError::Invalid(format!(
            "{} ratings in one batch; send at most {MAX_BATCH} at a time",
            items.len()
        )));
    }
    let window = window_of(app, m).await?;
    let device = device_name(m);
    let mut outcomes = Vec::with_capacity(items.len());
    let mut accepted = Vec::new();
    let mut accepted_at = Vec::new();
    for (index, (shown_id, item)) in items.into_iter().enumerate() {
        let checked = item
            .map_err(|e| ("malformed", e))
            .and_then(|it| check_item(&app.config.kiosk, window.id, &device, m.key_id, &it, now));
        match checked {
            Ok((rating, notes)) => {
                accepted.push(rating);
                accepted_at.push(outcomes.len());
                outcomes.push(ItemOutcome {
                    index,
                    client_event_id: shown_id,
                    status: ItemStatus::Stored,
                    problem: None,
                    detail: None,
                    notes,
                });
            }
            Err((problem, detail)) => outcomes.push(ItemOutcome {
                index,
                client_event_id: shown_id,
                status: ItemStatus::Rejected,
                problem: Some(problem),
                detail: Some(detail),
                notes: Vec::new(),
            }),
        }
    }
    if !accepted.is_empty() {
        let fresh = app.store.insert_device_ratings(&accepted).await?;
        for (i, new) in accepted_at.into_iter().zip(fresh) {
            if !new {
                outcomes[i].status = ItemStatus::Duplicate;
            }
        }
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-05-06T02:00:00Z";

    fn now() -> DateTime<Utc> {
        NOW.parse().unwrap()
    }

    fn item(id: &str, level: i64) -> RatingItem {
        RatingItem {
            client_event_id: Some(id.into()),
            scale: None,
            level: Some(level),
            reason: None,
            rated_at: Some("2026-05-06T01:59:00+00:00".into()),
        }
    }

    fn check(
        c: &KioskConfig,
        it: &RatingItem,
    ) -> std::result::Result<(NewRating, Vec<&'static str>), &'static str> {
        check_item(c, 7, "key:abc", 42, it, now()).map_err(|(p, _)| p)
    }

    #[test]
    fn client_event_ids() {
        assert!(ClientEventId::parse("abcd1234").is_ok());
        assert!(ClientEventId::parse(&"a".repeat(64)).is_ok());
        assert!(ClientEventId::parse("abc123").is_err());
        assert!(ClientEventId::parse(&"a".repeat(65)).is_err());
        assert!(ClientEventId::parse("abcd 1234").is_err());
        assert!(ClientEventId::parse("abcd:1234").is_err());
        assert!(ClientEventId::parse("评价评价评价评价").is_err());
    }

    #[test]
    fn items_are_namespaced_by_key_and_checked() {
        let c = KioskConfig::default();
        let (r, notes) = check(&c, &item("e-0000001", 1)).unwrap();
        assert_eq!(r.client_event_id.as_deref(), Some("42:e-0000001"));
        assert_eq!(
            (r.window_id, r.level.level, r.channel),
            (7, 1, Channel::RatingDevice)
        );
        assert!(notes.is_empty());
        assert_eq!(
            check(&c, &item("e-0000001", 4)).unwrap_err(),
            "invalid_level"
        );
        assert_eq!(
            check(&c, &item("short", 1)).unwrap_err(),
            "invalid_client_event_id"
        );
        let five = RatingItem {
            scale: Some(5),
            ..item("e-0000002", 5)
        };
        assert_eq!(check(&c, &five).unwrap().0.level.scale, RatingScale::Five);
        let seven = RatingItem {
            scale: Some(7),
            ..item("e-0000002", 1)
        };
        assert_eq!(check(&c, &seven).unwrap_err(), "invalid_scale");
    }

    #[test]
    fn reasons_only_with_dissatisfaction() {
        let c = KioskConfig::default();
        let bad = RatingItem {
            reason: Some("waiting".into()),
            ..item("e-0000003", 3)
        };
        let (r, notes) = check(&c, &bad).unwrap();
        assert_eq!((r.reason.as_deref(), notes.len()), (Some("waiting"), 0));
        let good = RatingItem {
            reason: Some("waiting".into()),
            ..item("e-0000004", 1)
        };
        let (r, notes) = check(&c, &good).unwrap();
        assert_eq!((r.reason, notes), (None, vec!["reason_ignored"]));
        let unknown = RatingItem {
            reason: Some("rude".into()),
            ..item("e-0000005", 3)
        };
        assert_eq!(check(&c, &unknown).unwrap_err(), "unknown_reason");
    }

    #[test]
    fn clocks_gone_wrong_get_the_server_time() {
        let c = KioskConfig::default();
        for at in [
            "2026-05-06T02:06:00Z",
            "2026-04-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
        ] {
            let it = RatingItem {
                rated_at: Some(at.into()),
                ..item("e-0000006", 2)
            };
            let (r, notes) = check(&c, &it).unwrap();
            assert_eq!(
                (r.rated_at, notes),
                (now(), vec!["rated_at_replaced"]),
                "{at}"
            );
        }
        let it = RatingItem {
            rated_at: Some("2026-05-06T10:04:00+08:00".into()),
            ..item("e-0000007", 2)
        };
        assert!(check(&c, &it).unwrap().1.is_empty());
        let it = RatingItem {
            rated_at: Some("yesterday".into()),
            ..item("e-0000008", 2)
        };
        assert_eq!(check(&c, &it).unwrap_err(), "invalid_rated_at");
    }

    #[test]
    fn kiosk_table_in_minyi_toml() {
        let load = |name: &str, text: &str| {
            let dir =
                std::env::temp_dir().join(format!("minyi-kiosk-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(crate::config::CONFIG_FILE), text).unwrap();
            let c = crate::Config::load(dir.clone(), None, &|_| None).map_err(|e| e.to_string());
            std::fs::remove_dir_all(&dir).unwrap();
            c
        };
        assert_eq!(load("none", "").unwrap().kiosk, KioskConfig::default());
        let c = load(
            "five",
            "[kiosk]\nscale = 5\nreasons = [\"repeated_trips\", \"other\"]\n",
        )
        .unwrap();
        assert_eq!(c.kiosk.scale, RatingScale::Five);
        assert_eq!(
            c.kiosk.reasons,
            vec![RatingReason::RepeatedTrips, RatingReason::Other]
        );
        for (text, names) in [
            ("[kiosk]\nscale = 4\n", "kiosk.scale"),
            ("[kiosk]\nreasons = [\"rude\"]\n", "kiosk.reasons"),
            ("[kiosk]\nscal = 5\n", "scal"),
            ("[kiosk]\nscale = \"five\"\n", "scale"),
        ] {
            let e = load("bad", text).unwrap_err();
            assert!(e.contains("minyi.toml") && e.contains(names), "{text}: {e}");
        }
    }

    #[test]
    fn config_names_its_keys() {
        let f = |scale, reasons: Option<Vec<&str>>| {
            KioskConfig::from_file(&KioskFile {
                scale,
                reasons: reasons.map(|v| v.into_iter().map(String::from).collect()),
            })
        };
        assert_eq!(f(None, None).unwrap(), KioskConfig::default());
        assert_eq!(f(Some(5), None).unwrap().scale, RatingScale::Five);
        assert!(f(Some(4), None).unwrap_err().contains("kiosk.scale"));
        assert_eq!(
            f(None, Some(vec!["other", "waiting"])).unwrap().reasons,
            vec![RatingReason::Other, RatingReason::Waiting]
        );
        assert!(f(None, Some(vec![])).unwrap().reasons.is_empty());
        assert!(
            f(None, Some(vec!["rude"]))
                .unwrap_err()
                .contains("kiosk.reasons")
        );
        assert!(
            f(None, Some(vec!["other", "other"]))
                .unwrap_err()
                .contains("twice")
        );
    }
}
