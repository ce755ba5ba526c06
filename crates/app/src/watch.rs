//! The deadline watch: a reminder before a matter falls due, an overdue mark when it does,
//! and the escalation ladder — to the county bureau after some working days overdue, to
//! the city after more. Each mark is an event on the matter (actor `watch`), written once
//! per deadline, so running the watch again, or on two servers, changes nothing.

use chrono::{DateTime, Duration, Utc};
use minyi_core::calendar::SHANGHAI;
use minyi_core::opinion::Escalation;
use minyi_store::{Changes, Step, StoreError};

use crate::{App, Result};

/// When the watch acts. Working days are counted on the bureau's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchRules {
    /// Remind this many hours before a deadline.
    pub remind_hours: i64,
    /// Escalate to the county bureau this many working days after the deadline.
    pub county_after_working_days: u32,
    /// Escalate to the city bureau this many working days after the deadline.
    pub city_after_working_days: u32,
}

impl Default for WatchRules {
    fn default() -> Self {
        WatchRules {
            remind_hours: 24,
            county_after_working_days: 2,
            city_after_working_days: 5,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchReport {
    pub reminded: u64,
    pub marked_overdue: u64,
    pub escalated_to_county: u64,
    pub escalated_to_city: u64,
}

const ACTOR: &str = "watch";
/// Matters looked at per pass; a backlog larger than this is worked off over passes.
const BATCH: i64 = 5_000;

/// One pass over the open matters that are due soon or overdue.
pub async fn run_once(app: &App, rules: WatchRules, now: DateTime<Utc>) -> Result<WatchReport> {
    let mut report = WatchReport::default();
    let until = now + Duration::hours(rules.remind_hours.max(0));
    let today = now.with_timezone(&SHANGHAI).date_naive();
    for m in app.store.due_matters(until, BATCH).await? {
        let o = &m.opinion;
        let Some(due) = o.due_at else { continue };
        let apply = |step: Step, changes: Changes, detail: String| {
            let store = app.store.clone();
            let id = o.id;
            async move {
                match store
                    .apply_to_opinion(id, step, ACTOR, now, Some(&detail), &changes)
                    .await
                {
                    // Someone handled the matter meanwhile: the next pass sees it as it is.
                    Ok(_) | Err(StoreError::Conflict(_)) | Err(StoreError::Transition(_)) => Ok(()),
                    Err(e) => Err(e),
                }
            }
        };
        if due >= now {
            if !m.reminded {
                apply(
                    Step::Annotate("remind"),
                    Changes::default(),
                    format!(
                        "due={}",
                        due.with_timezone(&SHANGHAI).format("%Y-%m-%d %H:%M")
                    ),
                )
                .await?;
                report.reminded += 1;
            }
            continue;
        }
        if !m.marked_overdue {
            apply(Step::Annotate("overdue"), Changes::default(), String::new()).await?;
            report.marked_overdue += 1;
        }
        let due_day = due.with_timezone(&SHANGHAI).date_naive();
        let late = app
            .calendar
            .working_days_between(due_day, today)
            .unwrap_or(u32::MAX);
        let target = if late >= rules.city_after_working_days {
            Escalation::City
        } else if late >= rules.county_after_working_days {
            Escalation::County
        } else {
            continue;
        };
        if level(target) > level(o.escalation) {
            apply(
                Step::Annotate("escalate"),
                Changes {
                    escalation: Some(target),
                    ..Default::default()
                },
                format!("overdue {late} working days"),
            )
            .await?;
            match target {
                Escalation::City => report.escalated_to_city += 1,
                _ => report.escalated_to_county += 1,
            }
        }
    }
    Ok(report)
}

fn level(e: Escalation) -> u8 {
    match e {
        Escalation::Station => 0,
        Escalation::County => 1,
        Escalation::City => 2,
    }
}

/// Runs a pass every `every` until `stop` resolves; errors are logged and the next pass
/// tries again (a database that is briefly away must not stop the watch for good).
pub async fn run_forever(
    app: App,
    rules: WatchRules,
    every: std::time::Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tick.tick() => {
                match run_once(&app, rules, Utc::now()).await {
                    Ok(r) if r != WatchReport::default() => tracing::info!(
                        reminded = r.reminded,
                        overdue = r.marked_overdue,
                        to_county = r.escalated_to_county,
                        to_city = r.escalated_to_city,
                        "deadline watch"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "deadline watch pass failed"),
                }
            }
        }
    }
}
