//! minyi-demo: a synthetic, Baoshan-shaped city and twelve months of activity generated
//! from a seed, for trying minyi and for benchmarks. Same seed, same data.
//!
//! Everything it makes is synthetic and marked so. Pure: it builds values in memory and
//! must not do IO, async or SQL; `app` writes them to the store.

pub mod activity;
pub mod callbacks;
pub mod cells;
pub mod city;
pub mod names;
pub mod texts;

use chrono::NaiveDate;
use minyi_core::calendar::Calendar;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use activity::{Activity, Period, Volumes};
pub use city::City;

/// The demo's twelve months. Fixed, not "the last twelve months", so that the same seed
/// gives the same data on any day.
pub fn default_period() -> Period {
    Period {
        first: NaiveDate::from_ymd_opt(2025, 11, 21).unwrap_or_default(),
        last: NaiveDate::from_ymd_opt(2026, 11, 20).unwrap_or_default(),
    }
}

/// The whole demo: the city and its activity. Separate random streams for the city and
/// the activity keep the city the same when activity volumes change.
pub fn generate(
    seed: u64,
    calendar: &Calendar,
    period: &Period,
    volumes: Volumes,
) -> (City, Activity) {
    let mut city_rng = ChaCha8Rng::seed_from_u64(seed);
    let city = city::build(&mut city_rng);
    let mut activity_rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6d69_6e79_695f_6163);
    let activity = activity::generate(&mut activity_rng, &city, calendar, period, volumes);
    (city, activity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minyi_core::opinion::{OpinionState, transition};
    use minyi_core::taxonomy::{Category, Channel};

    fn small() -> (City, Activity) {
        let calendar = Calendar::cn_mainland().unwrap();
        let volumes = Volumes {
            opinions: 6000,
            ratings: 5000,
            incidents: 4000,
            cases: 1000,
            permits: 1000,
        };
        generate(11, &calendar, &default_period(), volumes)
    }

    #[test]
    fn same_seed_same_data() {
        let (c1, a1) = small();
        let (c2, a2) = small();
        assert_eq!(c1.units, c2.units);
        assert_eq!(c1.officers, c2.officers);
        let texts = |a: &Activity| {
            a.opinions
                .iter()
                .map(|o| o.draft.text.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(texts(&a1), texts(&a2));
        assert_eq!(
            a1.ratings
                .iter()
                .map(|r| (r.at, r.level))
                .collect::<Vec<_>>(),
            a2.ratings
                .iter()
                .map(|r| (r.at, r.level))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn histories_are_legal_and_ordered() {
        let (_, a) = small();
        let period = default_period();
        let mut states = std::collections::HashMap::new();
        for o in &a.opinions {
            let mut s = OpinionState::Received;
            let mut last = o.received_at;
            for (action, at) in &o.history {
                s = transition(s, *action).unwrap_or_else(|e| panic!("{e} in {:?}", o.history));
                assert!(*at >= last, "time runs forward");
                last = *at;
            }
            assert!(o.due_at >= o.received_at);
            assert!(o.received_at.date_naive() >= period.first - chrono::Duration::days(1));
            *states.entry(s).or_insert(0) += 1;
        }
        // Most old matters are closed, and every kind of ending occurs.
        assert!(
            states[&OpinionState::Closed] > a.opinions.len() * 8 / 10,
            "{states:?}"
        );
        for s in [
            OpinionState::Merged,
            OpinionState::Invalid,
            OpinionState::Accepted,
        ] {
            assert!(states.contains_key(&s), "{s} never occurs: {states:?}");
        }
    }

    #[test]
    fn channels_categories_and_non_police_share() {
        let (_, a) = small();
        for ch in [
            Channel::WebForm,
            Channel::Sms,
            Channel::QrCard,
            Channel::SuggestionBox,
            Channel::GridPlatform,
            Channel::Microblog,
            Channel::Visit,
            Channel::Forum,
        ] {
            assert!(a.opinions.iter().any(|o| o.channel == ch), "{ch} unused");
        }
        for cat in Category::ALL {
            assert!(
                a.opinions.iter().any(|o| o.draft.category == *cat),
                "{cat} unused"
            );
        }
        let non_police =
            a.incidents.iter().filter(|i| !i.police).count() as f64 / a.incidents.len() as f64;
        assert!(non_police > 0.40, "non-police share {non_police}");
        assert!(
            a.incidents
                .iter()
                .all(|i| i.police == i.department.is_none())
        );
        assert!(
            a.ratings.iter().any(|r| r.level == 3)
                && a.ratings.iter().all(|r| (1..=3).contains(&r.level))
        );
        assert!(a.cases.iter().all(
            |c| c.filed_at.is_none_or(|f| f >= c.reported_at) && c.recovered_fen <= c.loss_fen
        ));
    }
}
