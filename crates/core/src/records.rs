//! Records the practice measures: window ratings, 110 incidents, cases, permit
//! transactions, and the callbacks that follow them.

use chrono::{DateTime, Utc};

use crate::error::ParseError;
use crate::taxonomy::{Category, Channel, DepartmentKind, vocabulary};

/// The scale of a rating device: three levels (满意 / 基本满意 / 不满意) by default, five
/// by configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingScale {
    Three,
    Five,
}

impl RatingScale {
    pub fn levels(self) -> u8 {
        match self {
            RatingScale::Three => 3,
            RatingScale::Five => 5,
        }
    }
}

/// A one-touch verdict: level 1 is the best, `scale.levels()` the worst, so that
/// "dissatisfied" is always the highest number on either scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RatingLevel {
    pub scale: RatingScale,
    pub level: u8,
}

impl RatingLevel {
    pub fn parse(scale: RatingScale, level: i64) -> Result<RatingLevel, ParseError> {
        let max = scale.levels() as i64;
        if !(1..=max).contains(&level) {
            return Err(ParseError::Invalid {
                what: "rating level",
                why: format!("{level} is outside 1..={max}"),
            });
        }
        Ok(RatingLevel {
            scale,
            level: level as u8,
        })
    }

    /// Counted as satisfied in rates: the best level on the three-point scale, the best
    /// two on the five-point scale.
    pub fn is_satisfied(self) -> bool {
        match self.scale {
            RatingScale::Three => self.level == 1,
            RatingScale::Five => self.level <= 2,
        }
    }

    pub fn is_dissatisfied(self) -> bool {
        self.level == self.scale.levels() || (self.scale == RatingScale::Five && self.level == 4)
    }
}

/// A rating from a window device (or an SMS reply or a link), resolved to ids.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewRating {
    pub window_id: i64,
    pub channel: Channel,
    pub device: Option<String>,
    /// The device's own id for this rating, so an offline retry is never counted twice.
    pub client_event_id: Option<String>,
    pub level: RatingLevel,
    pub reason: Option<String>,
    pub rated_at: DateTime<Utc>,
    pub synthetic: bool,
}

/// A 110 call and its handling. Over 40% of calls are not police matters: those carry
/// the linked department they were passed to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewIncident {
    pub external_id: String,
    pub received_at: DateTime<Utc>,
    pub area_id: Option<i64>,
    pub unit_id: Option<i64>,
    pub category: Category,
    pub police_matter: bool,
    pub department: Option<DepartmentKind>,
    pub summary: String,
    pub closed_at: Option<DateTime<Utc>>,
    /// 报警求助是否解决: whether the caller's problem was resolved.
    pub resolved: Option<bool>,
    pub synthetic: bool,
}

vocabulary! {
    /// Kinds of criminal case named by the practice.
    CaseKind, "case kind" {
        Theft => "theft", "盗窃";
        Burglary => "burglary", "入室盗窃";
        VehicleTheft => "vehicle_theft", "盗窃机动车";
        Robbery => "robbery", "抢劫抢夺";
        Fraud => "fraud", "诈骗";
        Assault => "assault", "故意伤害";
        Drugs => "drugs", "毒品犯罪";
        Other => "other", "其他刑事案件";
    }
}

/// A case with its milestones; each later milestone becomes an event and a notice.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewCase {
    pub external_id: String,
    pub kind: CaseKind,
    pub station_id: i64,
    pub area_id: Option<i64>,
    pub reported_at: DateTime<Utc>,
    pub filed_at: Option<DateTime<Utc>>,
    pub solved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// Amounts in fen (分), so sums are exact.
    pub loss_fen: i64,
    pub recovered_fen: i64,
    pub synthetic: bool,
}

impl NewCase {
    /// An impossible timeline (solved before reported, recovered more than lost) is
    /// refused rather than stored.
    pub fn check(&self) -> Result<(), ParseError> {
        let bad = |why: String| {
            Err(ParseError::Invalid {
                what: "case",
                why: format!("{}: {why}", self.external_id),
            })
        };
        let mut last = self.reported_at;
        for (name, at) in [
            ("filed", self.filed_at),
            ("solved", self.solved_at),
            ("closed", self.closed_at),
        ] {
            if let Some(at) = at {
                if at < last {
                    return bad(format!("{name} before an earlier milestone"));
                }
                last = at;
            }
        }
        if self.loss_fen < 0 || self.recovered_fen < 0 || self.recovered_fen > self.loss_fen {
            return bad("amounts must be ≥ 0 and recovered ≤ loss".into());
        }
        Ok(())
    }
}

vocabulary! {
    /// Permit transactions with a promised date (证照办理).
    PermitKind, "permit kind" {
        HukouTransfer => "hukou_transfer", "户口迁移";
        HukouChange => "hukou_change", "户籍信息变更";
        IdCard => "id_card", "居民身份证";
        ResidencePermit => "residence_permit", "居住证";
        ExitEntryPermit => "exit_entry_permit", "出入境证件";
        DrivingLicence => "driving_licence", "驾驶证";
        VehicleRegistration => "vehicle_registration", "机动车登记";
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewPermit {
    pub external_id: String,
    pub kind: PermitKind,
    pub window_id: i64,
    pub applied_at: DateTime<Utc>,
    pub promised_at: DateTime<Utc>,
    pub issued_at: Option<DateTime<Utc>>,
    pub synthetic: bool,
}

vocabulary! {
    /// What happened to a record from a police system. Every change an import applies is
    /// stored as an event with one of these actions (subject incident, case or permit);
    /// callbacks and case-progress notices to victims are planned from them.
    RecordAction, "record action" {
        Received => "received", "接报";
        Closed => "closed", "办结";
        Filed => "filed", "立案";
        InvestigatorAssigned => "investigator_assigned", "确定办案民警";
        SuspectCaught => "suspect_caught", "抓获犯罪嫌疑人";
        Solved => "solved", "破案";
        LossRecovered => "loss_recovered", "追回损失";
        Issued => "issued", "办结发证";
    }
}

vocabulary! {
    /// What a callback follows up.
    CallbackSource, "callback source" {
        Incident => "incident", "110警情";
        Case => "case", "案件";
        Permit => "permit", "证照办理";
        Opinion => "opinion", "民意诉求";
    }
}

vocabulary! {
    /// Where a callback task stands.
    CallbackState, "callback state" {
        Pending => "pending", "待回访";
        Done => "done", "已回访";
        Failed => "failed", "未联系上";
        Excluded => "excluded", "不回访";
    }
}

vocabulary! {
    /// The outcome of one callback attempt.
    CallbackOutcome, "callback outcome" {
        Reached => "reached", "已接通";
        NoAnswer => "no_answer", "无人接听";
        WrongNumber => "wrong_number", "号码错误";
        Refused => "refused", "拒绝回访";
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn rating_levels() {
        assert!(RatingLevel::parse(RatingScale::Three, 0).is_err());
        assert!(RatingLevel::parse(RatingScale::Three, 4).is_err());
        let three = |l| RatingLevel::parse(RatingScale::Three, l).unwrap();
        assert!(three(1).is_satisfied() && !three(2).is_satisfied() && three(3).is_dissatisfied());
        let five = |l| RatingLevel::parse(RatingScale::Five, l).unwrap();
        assert!(five(2).is_satisfied() && five(4).is_dissatisfied() && !five(3).is_dissatisfied());
    }

    #[test]
    fn case_timeline_must_be_possible() {
        let t = |d| Utc.with_ymd_and_hms(2026, 3, d, 8, 0, 0).unwrap();
        let mut c = NewCase {
            external_id: "AJ1".into(),
            kind: CaseKind::Theft,
            station_id: 1,
            area_id: None,
            reported_at: t(5),
            filed_at: Some(t(6)),
            solved_at: Some(t(20)),
            closed_at: None,
            loss_fen: 10_000,
            recovered_fen: 5_000,
            synthetic: true,
        };
        assert!(c.check().is_ok());
        c.solved_at = Some(t(4));
        assert!(c.check().is_err());
        c.solved_at = Some(t(20));
        c.recovered_fen = 20_000;
        assert!(c.check().is_err());
    }
}
