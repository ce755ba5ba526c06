//! Stories for the dashboard aggregates: hand-made rows whose per-unit figures are
//! worked out by hand below, on SQLite and (when configured) PostgreSQL.

use chrono::{DateTime, Duration, TimeZone, Utc};
use minyi_core::Code;
use minyi_core::event::{NewEvent, SubjectKind};
use minyi_core::opinion::{Escalation, NewOpinion, OpinionState, OpinionText, TrackingCode};
use minyi_core::org::{NewUnit, UnitKind, WindowKind};
use minyi_core::records::{NewRating, RatingLevel, RatingScale};
use minyi_core::taxonomy::{Category, Channel, DepartmentKind, Sentiment, Urgency, Verdict};
use minyi_store::dashboard::{
    AnsweredCount, CallbackCount, Dimension, MonthCount, RatingCount, Routing, UnitFigures,
};
use minyi_store::testing::TestDb;
use minyi_store::{InsertOutcome, Store};

conformance!(
    dashboard:
    dashboard_aggregates_by_unit_month_and_routing,
    dashboard_rejects_bad_periods,
);

fn utc(m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, m, d, h, min, 0).unwrap()
}

fn unit(c: &str, kind: UnitKind, parent: Option<&str>) -> NewUnit {
    NewUnit {
        code: Code::parse(c).unwrap(),
        kind,
        name: format!("单位{c}"),
        parent: parent.map(|p| Code::parse(p).unwrap()),
        window: (kind == UnitKind::Window).then_some(WindowKind::Household),
        department: (kind == UnitKind::Department).then_some(DepartmentKind::Labour),
        synthetic: true,
    }
}

struct O {
    unit: Option<i64>,
    department: Option<i64>,
    channel: Channel,
    category: Category,
    received: DateTime<Utc>,
    state: OpinionState,
    due: Option<DateTime<Utc>>,
    verdict: Option<Verdict>,
}

fn opinion(bits: u64, o: &O) -> NewOpinion {
    NewOpinion {
        tracking_code: TrackingCode::from_bits(bits),
        client_key: None,
        channel: o.channel,
        text: OpinionText::parse("路灯坏了").unwrap(),
        category: o.category,
        sentiment: Sentiment::Negative,
        urgency: Urgency::Normal,
        department: o.department.map(|_| DepartmentKind::Labour),
        area_id: None,
        unit_id: o.unit,
        department_id: o.department,
        state: o.state,
        escalation: Escalation::Station,
        key_opinion: false,
        received_at: o.received,
        due_at: o.due,
        closed_at: (!o.state.is_open()).then_some(o.received + Duration::days(1)),
        verdict: o.verdict,
        synthetic: true,
    }
}

fn responded(subject: SubjectKind, id: i64, at: DateTime<Utc>) -> NewEvent {
    NewEvent {
        subject,
        subject_id: id,
        at,
        actor: "test".into(),
        action: "respond".into(),
        from_state: Some("accepted".into()),
        to_state: Some("responded".into()),
        detail: None,
    }
}

fn rating(window_id: i64, scale: RatingScale, level: i64, at: DateTime<Utc>) -> NewRating {
    NewRating {
        window_id,
        channel: Channel::RatingDevice,
        device: None,
        client_event_id: None,
        level: RatingLevel::parse(scale, level).unwrap(),
        reason: None,
        rated_at: at,
        synthetic: true,
    }
}

/// City → county (handles one matter itself) → two stations, a window under the first
/// station, and a linked department. The period is March and April 2026 in Shanghai:
/// [2026-02-28 16:00 UTC, 2026-04-30 16:00 UTC), split at 2026-03-31 16:00 UTC.
pub async fn dashboard_aggregates_by_unit_month_and_routing(store: &Store, db: &TestDb) {
    let ids = store
        .insert_units(&[
            unit("C", UnitKind::CityBureau, None),
            unit("C-1", UnitKind::CountyBureau, Some("C")),
            unit("C-1-S1", UnitKind::Station, Some("C-1")),
            unit("C-1-S2", UnitKind::Station, Some("C-1")),
            unit("C-1-S1-W", UnitKind::Window, Some("C-1-S1")),
            unit("C-D-LAB", UnitKind::Department, Some("C")),
        ])
        .await
        .unwrap();
    let (county, s1, s2, window, dept) = (ids[1], ids[2], ids[3], ids[4], ids[5]);
    let now = utc(4, 20, 0, 0);
    let soon_until = utc(4, 22, 0, 0);
    let bounds = [utc(2, 28, 16, 0), utc(3, 31, 16, 0), utc(4, 30, 16, 0)];
    let (from, to) = (bounds[0], bounds[2]);
    let rows = [
        // 1: S1, the last millisecond of March in Shanghai; open and overdue.
        O {
            unit: Some(s1),
            department: None,
            channel: Channel::WebForm,
            category: Category::PublicOrder,
            received: utc(3, 31, 16, 0) - Duration::milliseconds(1),
            state: OpinionState::Received,
            due: Some(now - Duration::hours(1)),
            verdict: None,
        },
        // 2: S1, the first instant of April in Shanghai; closed, satisfied, routed to
        // the department; answered a day late.
        O {
            unit: Some(s1),
            department: Some(dept),
            channel: Channel::Hotline,
            category: Category::Traffic,
            received: utc(3, 31, 16, 0),
            state: OpinionState::Closed,
            due: Some(utc(4, 1, 0, 0)),
            verdict: Some(Verdict::Satisfied),
        },
        // 3: S2, April; open, due soon; its only answer came before the period.
        O {
            unit: Some(s2),
            department: None,
            channel: Channel::WebForm,
            category: Category::Traffic,
            received: utc(4, 10, 2, 0),
            state: OpinionState::Accepted,
            due: Some(now + Duration::days(1)),
            verdict: None,
        },
        // 4: S2, received before the period (23:00 on 28 Feb in Shanghai): counts as
        // open, not as received, and its verdict is not in the period; answered on time
        // in the period.
        O {
            unit: Some(s2),
            department: None,
            channel: Channel::WebForm,
            category: Category::PublicOrder,
            received: utc(2, 28, 15, 0),
            state: OpinionState::Assigned,
            due: Some(now + Duration::days(10)),
            verdict: Some(Verdict::Dissatisfied),
        },
        // 5: not routed to any unit: in no unit's figures.
        O {
            unit: None,
            department: None,
            channel: Channel::Sms,
            category: Category::Other,
            received: utc(4, 3, 0, 0),
            state: OpinionState::Received,
            due: Some(now - Duration::days(1)),
            verdict: None,
        },
        // 6: handled by the county itself; responded (still open), overdue, answered
        // twice, the first time on time.
        O {
            unit: Some(county),
            department: None,
            channel: Channel::Sms,
            category: Category::Conduct,
            received: utc(4, 5, 1, 0),
            state: OpinionState::Responded,
            due: Some(utc(4, 8, 0, 0)),
            verdict: Some(Verdict::BasicallySatisfied),
        },
    ];
    let new: Vec<NewOpinion> = rows
        .iter()
        .enumerate()
        .map(|(i, o)| opinion(100 + i as u64, o))
        .collect();
    let oid: Vec<i64> = store
        .insert_opinions(&new, "test")
        .await
        .unwrap()
        .into_iter()
        .map(|out| match out {
            InsertOutcome::Created(id) => id,
            other => panic!("{other:?}"),
        })
        .collect();
    let op = SubjectKind::Opinion;
    store
        .insert_events(&[
            responded(op, oid[1], utc(4, 2, 0, 0)),
            responded(op, oid[2], utc(2, 20, 0, 0)),
            responded(op, oid[3], utc(4, 3, 0, 0)),
            responded(op, oid[5], utc(4, 7, 0, 0)),
            responded(op, oid[5], utc(4, 12, 0, 0)),
            // Another subject's `responded` with an opinion's id is not an answer.
            responded(SubjectKind::Callback, oid[0], utc(4, 3, 0, 0)),
        ])
        .await
        .unwrap();
    store
        .insert_ratings(&[
            rating(window, RatingScale::Three, 1, utc(3, 2, 0, 0)),
            rating(window, RatingScale::Three, 1, utc(4, 2, 0, 0)),
            rating(window, RatingScale::Three, 3, utc(4, 3, 0, 0)),
            rating(window, RatingScale::Five, 4, utc(4, 4, 0, 0)),
            // Before the period.
            rating(window, RatingScale::Three, 2, utc(2, 1, 0, 0)),
        ])
        .await
        .unwrap();
    // The store has no callback writer yet: plain SQL, as an importer would.
    {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        for (i, (unit_id, due, state)) in [
            (s1, utc(4, 10, 0, 0), "pending"),
            (s1, utc(4, 11, 0, 0), "done"),
            (s1, utc(4, 12, 0, 0), "done"),
            (s2, utc(1, 1, 0, 0), "failed"),
        ]
        .into_iter()
        .enumerate()
        {
            sqlx::query(
                "INSERT INTO callbacks (source, source_id, unit_id, due_at, state) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind("opinion")
            .bind(i as i64 + 1)
            .bind(unit_id)
            .bind(due.timestamp_millis())
            .bind(state)
            .execute(&mut conn)
            .await
            .unwrap();
        }
        conn.close().await.unwrap();
    }

    let figures = store
        .dashboard_unit_figures(Routing::Unit, from, to, now, soon_until)
        .await
        .unwrap();
    let f = |unit_id, received, open, overdue, due_soon, verdicts: [i64; 3]| UnitFigures {
        unit_id,
        received,
        open,
        overdue,
        due_soon,
        satisfied: verdicts[0],
        basically_satisfied: verdicts[1],
        dissatisfied: verdicts[2],
    };
    assert_eq!(
        figures,
        vec![
            f(county, 1, 1, 1, 0, [0, 1, 0]),
            f(s1, 2, 1, 1, 0, [1, 0, 0]),
            f(s2, 1, 2, 0, 1, [0, 0, 0]),
        ]
    );
    let by_dept = store
        .dashboard_unit_figures(Routing::Department, from, to, now, soon_until)
        .await
        .unwrap();
    assert_eq!(by_dept, vec![f(dept, 1, 0, 0, 0, [1, 0, 0])]);

    let m = |unit_id, month, key: &str, count| MonthCount {
        unit_id,
        month,
        key: key.into(),
        count,
    };
    let sorted = |mut v: Vec<MonthCount>| {
        v.sort_by(|a, b| (a.unit_id, a.month, &a.key).cmp(&(b.unit_id, b.month, &b.key)));
        v
    };
    let channels = store
        .dashboard_months(Routing::Unit, Dimension::Channel, &bounds)
        .await
        .unwrap();
    assert_eq!(
        sorted(channels),
        vec![
            m(county, 1, "sms", 1),
            m(s1, 0, "web_form", 1),
            m(s1, 1, "hotline", 1),
            m(s2, 1, "web_form", 1),
        ]
    );
    let categories = store
        .dashboard_months(Routing::Unit, Dimension::Category, &bounds)
        .await
        .unwrap();
    assert_eq!(
        sorted(categories),
        vec![
            m(county, 1, "conduct", 1),
            m(s1, 0, "public_order", 1),
            m(s1, 1, "traffic", 1),
            m(s2, 1, "traffic", 1),
        ]
    );
    let dept_channels = store
        .dashboard_months(Routing::Department, Dimension::Channel, &bounds)
        .await
        .unwrap();
    assert_eq!(dept_channels, vec![m(dept, 1, "hotline", 1)]);

    let a = |unit_id, answered, on_time| AnsweredCount {
        unit_id,
        answered,
        on_time,
    };
    assert_eq!(
        store
            .dashboard_answered(Routing::Unit, from, to)
            .await
            .unwrap(),
        vec![a(county, 1, 1), a(s1, 1, 0), a(s2, 1, 1)]
    );
    assert_eq!(
        store
            .dashboard_answered(Routing::Department, from, to)
            .await
            .unwrap(),
        vec![a(dept, 1, 0)]
    );

    let r = |scale, level, count| RatingCount {
        window_id: window,
        scale,
        level,
        count,
    };
    assert_eq!(
        store.dashboard_ratings(from, to).await.unwrap(),
        vec![r(3, 1, 2), r(3, 3, 1), r(5, 4, 1)]
    );

    let c = |unit_id, state: &str, count| CallbackCount {
        unit_id,
        state: state.into(),
        count,
    };
    assert_eq!(
        store.dashboard_callbacks(from, to).await.unwrap(),
        vec![c(s1, "done", 2), c(s1, "pending", 1)]
    );

    // An empty period counts nothing but still lists open matters.
    let empty = store
        .dashboard_unit_figures(Routing::Unit, to, to, now, soon_until)
        .await
        .unwrap();
    assert_eq!(empty.iter().map(|x| x.received).sum::<i64>(), 0);
    assert_eq!(empty.iter().map(|x| x.open).sum::<i64>(), 4);
}

pub async fn dashboard_rejects_bad_periods(store: &Store, _db: &TestDb) {
    let (a, b) = (utc(4, 1, 0, 0), utc(3, 1, 0, 0));
    let err = store
        .dashboard_unit_figures(Routing::Unit, a, b, a, a)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("before it starts"), "{err}");
    assert!(store.dashboard_ratings(a, b).await.is_err());
    assert!(store.dashboard_answered(Routing::Unit, a, b).await.is_err());
    assert!(store.dashboard_callbacks(a, b).await.is_err());
    let err = store
        .dashboard_months(Routing::Unit, Dimension::Channel, &[a, b])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ascend"), "{err}");
    assert!(
        store
            .dashboard_months(Routing::Unit, Dimension::Channel, &[a])
            .await
            .unwrap()
            .is_empty()
    );
}
