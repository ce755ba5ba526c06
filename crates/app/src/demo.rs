//! Loading the synthetic demo city into an empty store.

use std::collections::HashMap;
use std::time::Instant;

use minyi_core::event::{NewEvent, SubjectKind};
use minyi_core::identity::ResidentName;
use minyi_core::opinion::{NewOpinion, OpinionState, TrackingCode, transition};
use minyi_core::records::{
    Conflict, ImportedCase, ImportedIncident, ImportedPermit, NewCase, NewIncident, NewPermit,
    NewRating, RatingLevel, RatingScale, RecordChange, RecordFlags, case_changes, incident_changes,
    permit_changes,
};
use minyi_core::taxonomy::Channel;
use minyi_demo::activity::{DemoOpinion, Handler};
use minyi_demo::city::DEPARTMENTS;
use minyi_demo::{Volumes, default_period};
use minyi_store::{Counts, ImportRecord, InsertOutcome, RecordWrite};

use crate::{App, AppError, Result};

/// Who the demo's events are attributed to.
pub const DEMO_ACTOR: &str = "demo:synthetic";

#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoReport {
    pub seed: u64,
    pub counts: Counts,
    pub seconds: f64,
}

/// Generates the demo city from `seed` and writes it. Refuses a store that already has
/// units: the demo never mixes invented data into real data.
pub async fn load(
    app: &App,
    seed: u64,
    volumes: Volumes,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<DemoReport> {
    let started = Instant::now();
    let store = &app.store;
    check_not_half_loaded(app).await?;
    if store.counts().await?.units > 0 {
        return Err(AppError::Refused(format!(
            "the database {} already has units; the demo loads only into an empty store (use a new --data-dir)",
            store.url()
        )));
    }
    // Each kind of record is its own transaction; the marker tells a later start that an
    // interrupted load left a partial city behind.
    store.meta_set(DEMO_STATE, "loading").await?;
    progress("generating the synthetic city");
    let period = default_period();
    let (city, activity) = minyi_demo::generate(seed, &app.calendar, &period, volumes);

    progress("writing units, areas and officers");
    store.insert_units(&city.units).await?;
    store.insert_areas(&city.areas).await?;
    store.insert_officers(&city.officers).await?;
    let unit_ids: HashMap<String, i64> = store
        .units()
        .await?
        .into_iter()
        .map(|u| (u.code.to_string(), u.id))
        .collect();
    let area_ids: HashMap<String, i64> = store
        .areas()
        .await?
        .into_iter()
        .map(|a| (a.code.to_string(), a.id))
        .collect();
    let id_of = |code: &str| unit_ids.get(code).copied();
    let station_id = |i: usize| city.stations.get(i).and_then(|s| id_of(s.code.as_str()));
    let village_id = |s: usize, v: usize| {
        city.stations
            .get(s)
            .and_then(|st| st.villages.get(v))
            .and_then(|(c, _, _)| area_ids.get(c.as_str()).copied())
    };
    let dept_id = |k| {
        DEPARTMENTS
            .iter()
            .find(|d| d.0 == k)
            .and_then(|d| id_of(d.1))
    };

    progress("writing opinions and their histories");
    let handler_id = |o: &DemoOpinion| match o.handler {
        Handler::Station(s) => station_id(s),
        Handler::County(_) => city
            .stations
            .get(o.station)
            .and_then(|s| id_of(s.county_bureau.as_str())),
        Handler::Department(k) => dept_id(k),
    };
    let mut rows = Vec::with_capacity(activity.opinions.len());
    for o in &activity.opinions {
        let handler = handler_id(o);
        let (unit_id, department_id) = match o.handler {
            // Non-police matters stay on their station's books and go to the department.
            Handler::Department(_) => (station_id(o.station), handler),
            _ => (handler, None),
        };
        let row = o
            .to_new(
                TrackingCode::from_bits(o.tracking_bits),
                village_id(o.station, o.village),
                unit_id,
                department_id,
            )
            .map_err(|e| AppError::Refused(format!("demo text: {e}")))?;
        rows.push(row);
    }
    let mut outcomes = store.insert_opinions(&rows, DEMO_ACTOR).await?;
    // A tracking code can collide (40 random bits); draw the next code and try again.
    let mut tries = 0;
    while outcomes.contains(&InsertOutcome::CodeTaken) && tries < 8 {
        tries += 1;
        let retry: Vec<usize> = (0..rows.len())
            .filter(|&i| outcomes[i] == InsertOutcome::CodeTaken)
            .collect();
        let batch: Vec<NewOpinion> = retry
            .iter()
            .map(|&i| {
                let bits = activity.opinions[i]
                    .tracking_bits
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(tries);
                NewOpinion {
                    tracking_code: TrackingCode::from_bits(bits),
                    ..rows[i].clone()
                }
            })
            .collect();
        for (k, out) in store
            .insert_opinions(&batch, DEMO_ACTOR)
            .await?
            .into_iter()
            .enumerate()
        {
            outcomes[retry[k]] = out;
        }
    }
    let mut events = Vec::with_capacity(activity.opinions.len() * 7);
    for (o, out) in activity.opinions.iter().zip(&outcomes) {
        let InsertOutcome::Created(id) = *out else {
            continue;
        };
        let mut state = OpinionState::Received;
        for &(action, at) in &o.history {
            let Ok(next) = transition(state, action) else {
                break;
            };
            events.push(NewEvent {
                subject: SubjectKind::Opinion,
                subject_id: id,
                at,
                actor: DEMO_ACTOR.into(),
                action: action.code().into(),
                from_state: Some(state.code().into()),
                to_state: Some(next.code().into()),
                detail: None,
            });
            state = next;
        }
    }
    store.insert_events(&events).await?;

    progress("writing window ratings");
    let ratings: Vec<NewRating> = activity
        .ratings
        .iter()
        .filter_map(|r| {
            Some(NewRating {
                window_id: id_of(r.window.as_str())?,
                channel: Channel::RatingDevice,
                device: Some(format!("{}-dev", r.window)),
                client_event_id: Some(r.client_event_id.clone()),
                level: RatingLevel::parse(RatingScale::Three, r.level as i64).ok()?,
                reason: r.reason.clone(),
                rated_at: r.at,
                synthetic: true,
            })
        })
        .collect();
    store.insert_ratings(&ratings).await?;

    progress("writing 110 incidents, cases and permit transactions");
    let incidents: Vec<NewIncident> = activity
        .incidents
        .iter()
        .map(|i| NewIncident {
            external_id: i.external_id.clone(),
            received_at: i.at,
            area_id: village_id(i.station, i.village),
            unit_id: if i.police {
                station_id(i.station)
            } else {
                i.department.and_then(dept_id)
            },
            category: i.category,
            police_matter: i.police,
            department: i.department,
            summary: i.summary.clone(),
            closed_at: Some(i.closed_at),
            resolved: Some(i.resolved),
            synthetic: true,
        })
        .collect();
    let flags = RecordFlags::default();
    let incidents: Vec<ImportedIncident> = incidents
        .into_iter()
        .map(|incident| ImportedIncident { incident, flags })
        .collect();
    write_records(app, seed, &incidents, |r| incident_changes(None, r)).await?;
    let cases: Vec<NewCase> = activity
        .cases
        .iter()
        .filter_map(|c| {
            Some(NewCase {
                external_id: c.external_id.clone(),
                kind: c.kind,
                station_id: station_id(c.station)?,
                area_id: village_id(c.station, c.village),
                reported_at: c.reported_at,
                filed_at: c.filed_at,
                solved_at: c.solved_at,
                closed_at: c.closed_at,
                loss_fen: c.loss_fen,
                recovered_fen: c.recovered_fen,
                synthetic: true,
            })
        })
        .collect();
    let cases: Vec<ImportedCase> = cases
        .into_iter()
        .map(|case| ImportedCase {
            case,
            investigator_assigned_at: None,
            suspect_caught_at: None,
            flags,
        })
        .collect();
    let now = chrono::Utc::now();
    write_records(app, seed, &cases, |r| case_changes(None, r, now)).await?;
    let permits: Vec<NewPermit> = activity
        .permits
        .iter()
        .filter_map(|p| {
            Some(NewPermit {
                external_id: p.external_id.clone(),
                kind: p.kind,
                window_id: id_of(p.window.as_str())?,
                applied_at: p.applied_at,
                promised_at: p.promised_at,
                issued_at: p.issued_at,
                synthetic: true,
            })
        })
        .collect();
    let permits: Vec<ImportedPermit> = permits
        .into_iter()
        .map(|permit| ImportedPermit { permit, flags })
        .collect();
    write_records(app, seed, &permits, |r| permit_changes(None, r)).await?;
    progress("simulating callbacks to the synthetic contacts");
    let quality: HashMap<i64, f64> = city
        .stations
        .iter()
        .filter_map(|s| Some((id_of(s.code.as_str())?, s.quality)))
        .collect();
    crate::callbacks::plan_demo(app, seed, &quality, period.now()).await?;
    progress("drawing schematic map cells");
    let area_ids: HashMap<String, i64> = store
        .areas()
        .await?
        .into_iter()
        .map(|a| (a.code.to_string(), a.id))
        .collect();
    let cells: Vec<(i64, String)> = minyi_demo::cells::schematic_cells(&city)
        .into_iter()
        .filter_map(|(code, g)| Some((*area_ids.get(code.as_str())?, g.to_geojson())))
        .collect();
    store.set_area_geometry(&cells).await?;
    // The synthetic survey wave (about 7,000 interviews) only with the full city: the
    // small demos many tests load stay as fast as they were.
    if volumes.opinions >= DEMO_SURVEY_FROM_OPINIONS {
        progress("drawing the synthetic survey wave");
        crate::surveys::load_demo_wave(app, seed, 100).await?;
    }
    // Synthetic business, team-building and jurisdiction metrics for the year the demo
    // ends in, so the default assessment scheme runs on the demo city.
    progress("inventing synthetic assessment metrics");
    {
        use chrono::Datelike;
        crate::assess::load_demo_metrics(app, seed, &period.last.year().to_string()).await?;
    }
    store.meta_set("synthetic_demo", "true").await?;
    store.meta_set(DEMO_STATE, "complete").await?;
    crate::audit::record(
        app,
        chrono::Utc::now(),
        "cli",
        crate::audit::AuditAction::DemoLoaded,
        "demo",
        &format!("seed={seed}"),
    )
    .await?;
    store.meta_set("demo_seed", &seed.to_string()).await?;
    store
        .meta_set("demo_period", &format!("{}..{}", period.first, period.last))
        .await?;
    Ok(DemoReport {
        seed,
        counts: store.counts().await?,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Writes demo records as an import would (`Store::apply_records`, in the import's
/// batches): each with its events and a synthetic contact (`minyi_demo::callbacks`),
/// sealed like a real one.
async fn write_records<T: ImportRecord>(
    app: &App,
    seed: u64,
    rows: &[T],
    changes: impl Fn(&T) -> std::result::Result<(T, Vec<RecordChange>), Conflict>,
) -> Result<()> {
    let now = chrono::Utc::now();
    for chunk in rows.chunks(crate::records::BATCH_ROWS) {
        let mut ids = Vec::with_capacity(chunk.len());
        let mut writes = Vec::with_capacity(chunk.len());
        for r in chunk {
            let (record, changes) = changes(r).map_err(|c| {
                AppError::Refused(format!(
                    "demo record {}: {}: {}",
                    r.external_id(),
                    c.column,
                    c.why
                ))
            })?;
            let person = minyi_demo::callbacks::contact(seed, r.external_id());
            let contact = crate::privacy::seal(
                &app.key,
                &crate::privacy::ContactInput {
                    name: ResidentName::parse(&person.name).ok(),
                    phone: Some(person.phone),
                    id_number: None,
                    address: None,
                },
            );
            ids.push(r.external_id().to_owned());
            writes.push(RecordWrite {
                id: None,
                record,
                contact: Some(contact),
                changes,
            });
        }
        // The store is empty of records (checked above), so nothing stored is merged.
        app.store
            .apply_records::<T, _>(&ids, DEMO_ACTOR, now, |_| writes)
            .await?;
    }
    Ok(())
}

const DEMO_STATE: &str = "demo_state";

/// From this many opinions on, a demo load is the full city and gets a survey wave.
pub const DEMO_SURVEY_FROM_OPINIONS: usize = 10_000;

/// Refuses a store whose demo load was interrupted: it holds a partial city.
pub async fn check_not_half_loaded(app: &App) -> Result<()> {
    if app.store.meta_get(DEMO_STATE).await?.as_deref() == Some("loading") {
        return Err(AppError::Refused(format!(
            "the database {} holds a demo city whose loading was interrupted; delete it (or its data directory) and run the demo again",
            app.store.url()
        )));
    }
    Ok(())
}

/// The demo's full size: at least 50,000 opinions and 300,000 ratings.
pub fn full_volumes() -> Volumes {
    Volumes::default()
}

/// One demo account, with the password shown once when it is created.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub role: minyi_core::access::Role,
    pub username: String,
    pub password: String,
    pub unit_code: String,
    pub unit_name: String,
}

/// One account per role on the demo city, each at a unit that role would sit at: the city
/// bureau, the first county bureau, its first station, the first linked department.
/// Passwords are random and returned to be printed; nothing is created if any `demo_`
/// account exists already.
pub async fn create_accounts(
    app: &App,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<DemoAccount>> {
    use minyi_core::access::Role;
    use minyi_core::org::UnitKind;
    if app
        .store
        .accounts()
        .await?
        .iter()
        .any(|a| a.username.starts_with("demo_"))
    {
        return Ok(Vec::new());
    }
    let mut units = app.store.units().await?;
    units.sort_by(|a, b| a.code.as_str().cmp(b.code.as_str()));
    let first = |kind: UnitKind, parent: Option<i64>| {
        units
            .iter()
            .find(|u| u.kind == kind && parent.is_none_or(|p| u.parent_id == Some(p)))
            .cloned()
    };
    let missing =
        || AppError::Refused("the demo city is not loaded: no units of the expected kinds".into());
    let city = first(UnitKind::CityBureau, None).ok_or_else(missing)?;
    let county = first(UnitKind::CountyBureau, Some(city.id)).ok_or_else(missing)?;
    let station = first(UnitKind::Station, Some(county.id)).ok_or_else(missing)?;
    let department = first(UnitKind::Department, None).ok_or_else(missing)?;
    let plan = [
        (Role::Admin, "demo_admin", "演示管理员", &city),
        (Role::CityAnalyst, "demo_city", "演示市局研判员", &city),
        (
            Role::CountyAnalyst,
            "demo_county",
            "演示县局研判员",
            &county,
        ),
        (
            Role::StationStaff,
            "demo_station",
            "演示派出所民警",
            &station,
        ),
        (
            Role::DepartmentLiaison,
            "demo_liaison",
            "演示部门联络员",
            &department,
        ),
        (Role::SurveyAgency, "demo_survey", "演示测评机构", &city),
        (Role::Leader, "demo_leader", "演示局领导", &city),
    ];
    let mut out = Vec::new();
    for (role, username, display, unit) in plan {
        let password = crate::auth::random_password();
        crate::auth::create_account(
            app,
            crate::auth::Operator::Cli,
            username,
            display,
            role,
            unit.code.as_str(),
            &password,
            false,
            true,
            now,
        )
        .await?;
        out.push(DemoAccount {
            role,
            username: username.to_owned(),
            password,
            unit_code: unit.code.to_string(),
            unit_name: unit.name.clone(),
        });
    }
    Ok(out)
}
