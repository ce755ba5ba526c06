//! The demo's callback side: a synthetic caller, victim or applicant for every demo
//! incident, case and permit, and a simulated history of calls for each callback the
//! rules plan, so that on the demo city every station shows callback coverage, reach
//! rate and callback satisfaction with numbers.
//!
//! Everything here is invented. Names are drawn from the demo's name lists; numbers are
//! Baoshan's area code with a local number starting with 0 (`0875-0xxxxxx`), which no
//! real local number does, so no real person can be called or texted. Each record's
//! contact and each callback's calls come from their own random stream, seeded from the
//! demo seed and the record's external id (and the rule), so adding them changes nothing
//! else the demo draws, and the same seed gives the same people and calls on any day.
//!
//! Pure: it must not do IO, async or SQL; `app::demo` seals the contacts and writes.

use chrono::{DateTime, Duration, Utc};
use minyi_core::PhoneNumber;
use minyi_core::calendar::Calendar;
use minyi_core::callback::{AfterAttempt, CallbackRules, PlannedCallback, after_attempt};
use minyi_core::records::{CallbackOutcome, CallbackState};
use minyi_core::taxonomy::Verdict;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::names;

/// A synthetic person to call back about a demo record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoContact {
    pub name: String,
    pub phone: PhoneNumber,
}

/// The stream of one thing (a record's contact, a callback's calls): FNV-1a over the tag,
/// mixed with the seed.
fn stream(seed: u64, tag: &[&str]) -> ChaCha8Rng {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in tag {
        for b in part.bytes().chain([0x1f]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    ChaCha8Rng::seed_from_u64(seed ^ h.rotate_left(17))
}

/// A fictional number: Baoshan's area code and a local number starting with 0.
fn fictional_phone(rng: &mut impl Rng) -> PhoneNumber {
    let local = rng.random_range(0..1_000_000u32);
    PhoneNumber::parse(&format!("0875-0{local:06}"))
        .unwrap_or_else(|e| unreachable!("0875-0xxxxxx is an 11-digit landline: {e}"))
}

/// The synthetic person of the record with `external_id` (every demo record has one).
pub fn contact(seed: u64, external_id: &str) -> DemoContact {
    let mut rng = stream(seed, &["contact", external_id]);
    DemoContact {
        name: names::person_name(&mut rng),
        phone: fictional_phone(&mut rng),
    }
}

/// One simulated call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAttempt {
    pub at: DateTime<Utc>,
    pub outcome: CallbackOutcome,
    pub verdict: Option<Verdict>,
    /// The callback's state after this call, as `callback::after_attempt` decides it.
    pub state: CallbackState,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// How a station's callers do: most callbacks are made on time, most people are
/// reached, and most of those reached are satisfied; a little worse where the station's
/// `quality` (0..1) is lower.
fn outcome(rng: &mut impl Rng, quality: f64) -> (CallbackOutcome, Option<Verdict>) {
    let x: f64 = rng.random();
    if x < 0.08 {
        return (CallbackOutcome::WrongNumber, None);
    }
    if x < 0.12 {
        return (CallbackOutcome::Refused, None);
    }
    if x < 0.38 {
        return (CallbackOutcome::NoAnswer, None);
    }
    let y: f64 = rng.random::<f64>() - 0.1 * (quality - 0.5);
    let verdict = if y < 0.72 {
        Verdict::Satisfied
    } else if y < 0.92 {
        Verdict::BasicallySatisfied
    } else {
        Verdict::Dissatisfied
    };
    (CallbackOutcome::Reached, Some(verdict))
}

/// The calls made on a planned callback up to `now` (the end of the demo period). An
/// excluded callback gets none; about one in ten is never called (it counts against
/// coverage); the others are called within their due time or a little after, again
/// after no answer at the rules' spacing, up to the rules' attempts. Calls that would
/// fall after `now` have not happened yet.
pub fn calls(
    seed: u64,
    rules: &CallbackRules,
    calendar: &Calendar,
    external_id: &str,
    planned: &PlannedCallback,
    quality: f64,
    now: DateTime<Utc>,
) -> Vec<DemoAttempt> {
    if planned.state != CallbackState::Pending {
        return Vec::new();
    }
    let mut rng = stream(seed, &["callback", external_id, &planned.rule]);
    if rng.random_bool(0.1 - 0.06 * quality.clamp(0.0, 1.0)) {
        return Vec::new();
    }
    let window = (planned.due_at - planned.trigger_at).num_minutes().max(60);
    // A few calls come late: up to two days after the due time.
    let late = if rng.random_bool(0.1) { 2 * 24 * 60 } else { 0 };
    let mut at = planned.trigger_at + Duration::minutes(rng.random_range(30..=window + late));
    let mut state = CallbackState::Pending;
    let mut out = Vec::new();
    for attempt in 1..=rules.attempts.max(1) {
        if at > now {
            break;
        }
        let (outcome, verdict) = outcome(&mut rng, quality);
        let Ok(after) = after_attempt(rules, calendar, state, attempt, outcome, verdict, at) else {
            break;
        };
        let next_attempt_at = match after {
            AfterAttempt::Retry { next_at } => Some(next_at),
            _ => None,
        };
        state = after.state();
        out.push(DemoAttempt {
            at,
            outcome,
            verdict,
            state,
            next_attempt_at,
        });
        match next_attempt_at {
            Some(next) => at = next + Duration::minutes(rng.random_range(0..90)),
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use minyi_core::records::CallbackSource;

    fn planned(state: CallbackState) -> PlannedCallback {
        let trigger_at = Utc.with_ymd_and_hms(2026, 3, 2, 2, 0, 0).unwrap();
        PlannedCallback {
            rule: "incident_closed".into(),
            source: CallbackSource::Incident,
            source_id: 1,
            unit_id: 1,
            trigger_at,
            due_at: trigger_at + Duration::days(1),
            state,
            exclusion: None,
        }
    }

    #[test]
    fn contacts_are_fictional_and_deterministic() {
        let a = contact(7, "DEMO-JQ-000001");
        assert_eq!(a, contact(7, "DEMO-JQ-000001"));
        assert_ne!(a, contact(7, "DEMO-JQ-000002"));
        for i in 0..200 {
            let c = contact(3, &format!("DEMO-AJ-{i:06}"));
            assert!(
                c.phone.as_str().starts_with("08750"),
                "{}",
                c.phone.as_str()
            );
            assert_eq!(c.phone.as_str().len(), 11);
            assert!(!c.name.is_empty());
        }
    }

    #[test]
    fn calls_follow_the_rules() {
        let rules = CallbackRules::default();
        let cal = Calendar::cn_mainland().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        assert!(
            calls(
                1,
                &rules,
                &cal,
                "X",
                &planned(CallbackState::Excluded),
                0.5,
                now
            )
            .is_empty()
        );
        let mut outcomes = std::collections::BTreeSet::new();
        let mut called = 0;
        for i in 0..400 {
            let ext = format!("DEMO-JQ-{i:06}");
            let got = calls(
                1,
                &rules,
                &cal,
                &ext,
                &planned(CallbackState::Pending),
                0.5,
                now,
            );
            assert_eq!(
                got,
                calls(
                    1,
                    &rules,
                    &cal,
                    &ext,
                    &planned(CallbackState::Pending),
                    0.5,
                    now
                )
            );
            assert!(got.len() <= rules.attempts as usize);
            called += usize::from(!got.is_empty());
            for (k, a) in got.iter().enumerate() {
                outcomes.insert(a.outcome.code());
                assert_eq!(a.verdict.is_some(), a.outcome == CallbackOutcome::Reached);
                // Only the last call may end the callback; earlier ones left it pending.
                if k + 1 < got.len() {
                    assert_eq!(a.state, CallbackState::Pending);
                    assert!(got[k + 1].at > a.at);
                }
            }
        }
        assert!(called > 300 && called < 400, "{called} of 400 called");
        assert_eq!(outcomes.len(), 4, "{outcomes:?}");
        // Nothing happens after the end of the demo.
        let early = Utc.with_ymd_and_hms(2026, 3, 2, 2, 10, 0).unwrap();
        assert!(
            calls(
                1,
                &rules,
                &cal,
                "Y",
                &planned(CallbackState::Pending),
                0.5,
                early
            )
            .is_empty()
        );
    }
}
