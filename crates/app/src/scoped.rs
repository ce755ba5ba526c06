//! Reads on behalf of a principal: every function here takes the principal and returns
//! only what lies in its scope, answering `NotFound` for anything outside it (so a
//! foreign id in a URL learns nothing). Pages call these, never the store directly.

use chrono::{DateTime, Utc};
use minyi_core::access::{OpinionPlace, Permission, Role, Scope, may_view_opinion};
use minyi_core::event::SubjectKind;
use minyi_core::opinion::TrackingCode;
use minyi_store::{EventRow, OfficerRow, OpinionRow, UnitRow};

use crate::auth::Principal;
use crate::overview::{Overview, UnitNode, overview};
use crate::privacy::{MaskedContact, masked};
use crate::{App, AppError, Result};

/// The overview cut to the principal's subtree, depths counted from its unit. City-wide
/// totals are shown only to those scoped at the root.
pub async fn overview_for(
    app: &App,
    p: &Principal,
    now: DateTime<Utc>,
    max_depth: usize,
) -> Result<Overview> {
    p.require(Permission::ViewOpinions)?;
    let mut o = overview(app, now, usize::MAX).await?;
    let Some(start) = o.tree.iter().position(|n| n.unit.id == p.unit_id) else {
        o.tree.clear();
        return Ok(o);
    };
    let base = o.tree[start].depth;
    let mut tree: Vec<UnitNode> = Vec::new();
    for n in &o.tree[start..] {
        if !tree.is_empty() && n.depth <= base {
            break;
        }
        let mut n = n.clone();
        n.depth -= base;
        if n.depth <= max_depth {
            tree.push(n);
        }
    }
    o.tree = tree;
    Ok(o)
}

pub struct UnitView {
    pub unit: UnitRow,
    pub parent: Option<UnitRow>,
    pub children: Vec<UnitRow>,
    pub officers: Vec<OfficerRow>,
    pub opinions: Vec<OpinionRow>,
    /// Areas the unit is the responsible station for.
    pub areas: Vec<minyi_store::AreaRow>,
}

/// A unit page: the unit must be in the principal's scope.
pub async fn unit(app: &App, p: &Principal, code: &str) -> Result<UnitView> {
    p.require(Permission::ViewOpinions)?;
    let u = app
        .store
        .unit_by_code(code.trim())
        .await?
        .ok_or(AppError::NotFound)?;
    if !p.scope.contains(u.id) {
        return Err(AppError::NotFound);
    }
    let units = app.store.units().await?;
    let tree: Vec<(i64, Option<i64>)> = units.iter().map(|x| (x.id, x.parent_id)).collect();
    let sub = Scope::subtree(u.id, &tree);
    let opinions = if p.role == Role::DepartmentLiaison {
        app.store.opinions_of_department(u.id, 50).await?
    } else {
        let ids: Vec<i64> = sub.units().filter(|id| p.scope.contains(*id)).collect();
        app.store.opinions_in_units(&ids, 50).await?
    };
    let parent = u
        .parent_id
        .filter(|pid| p.scope.contains(*pid))
        .and_then(|pid| units.iter().find(|x| x.id == pid).cloned());
    let mut children: Vec<UnitRow> = units
        .iter()
        .filter(|x| x.parent_id == Some(u.id))
        .cloned()
        .collect();
    children.sort_by(|a, b| a.code.as_str().cmp(b.code.as_str()));
    let officers = app.store.officers_of(u.id).await?;
    let mut areas: Vec<_> = app
        .store
        .areas()
        .await?
        .into_iter()
        .filter(|a| a.station_id == Some(u.id))
        .collect();
    areas.sort_by(|a, b| a.code.as_str().cmp(b.code.as_str()));
    Ok(UnitView {
        unit: u,
        parent,
        children,
        officers,
        opinions,
        areas,
    })
}

pub struct OpinionView {
    pub opinion: OpinionRow,
    pub unit: Option<UnitRow>,
    pub contact: Option<MaskedContact>,
    pub events: Vec<EventRow>,
    pub may_reveal: bool,
}

/// Finds an opinion by tracking code if the principal may see it.
pub async fn visible_opinion(app: &App, p: &Principal, code: &str) -> Result<OpinionRow> {
    p.require(Permission::ViewOpinions)?;
    let code = TrackingCode::parse(code).map_err(|_| AppError::NotFound)?;
    let o = app
        .store
        .opinion_by_tracking_code(&code)
        .await?
        .ok_or(AppError::NotFound)?;
    let place = OpinionPlace {
        unit_id: o.unit_id,
        department_id: o.department_id,
    };
    if !may_view_opinion(p.role, &p.scope, p.scope_is_city, place) {
        return Err(AppError::NotFound);
    }
    Ok(o)
}

pub async fn opinion(app: &App, p: &Principal, code: &str) -> Result<OpinionView> {
    let o = visible_opinion(app, p, code).await?;
    let contact = match o.contact_id {
        Some(id) => app.store.contact(id).await?.map(|c| masked(&c)),
        None => None,
    };
    let unit = match o.unit_id {
        Some(id) => app.store.unit(id).await?,
        None => None,
    };
    let events = app.store.events_of(SubjectKind::Opinion, o.id).await?;
    Ok(OpinionView {
        may_reveal: p.may(Permission::RevealPersonalData)
            && contact.as_ref().is_some_and(|c| !c.anonymised),
        opinion: o,
        unit,
        contact,
        events,
    })
}

/// One page of a unit's opinions (its subtree within the principal's scope; a liaison's
/// department: the matters routed to it), filtered and sorted.
pub async fn opinion_list(
    app: &App,
    p: &Principal,
    unit_code: &str,
    q: &minyi_store::lists::OpinionQuery,
) -> Result<(UnitRow, Vec<OpinionRow>, i64)> {
    use minyi_store::lists::Whose;
    p.require(Permission::ViewOpinions)?;
    let u = app
        .store
        .unit_by_code(unit_code.trim())
        .await?
        .ok_or(AppError::NotFound)?;
    if !p.scope.contains(u.id) {
        return Err(AppError::NotFound);
    }
    let whose = if p.role == Role::DepartmentLiaison {
        Whose::Department(u.id)
    } else {
        let tree = app.store.unit_tree().await?;
        let sub = Scope::subtree(u.id, &tree);
        Whose::Units(sub.units().filter(|id| p.scope.contains(*id)).collect())
    };
    let (rows, total) = app.store.opinion_list(&whose, q).await?;
    Ok((u, rows, total))
}

pub struct AreaView {
    pub area: minyi_store::AreaRow,
    /// From the county down to the parent.
    pub ancestors: Vec<minyi_store::AreaRow>,
    pub children: Vec<minyi_store::AreaRow>,
    pub station: Option<UnitRow>,
    pub officers: Vec<OfficerRow>,
    pub opinions: Vec<OpinionRow>,
    pub opinions_total: i64,
    pub open: i64,
    pub overdue: i64,
}

/// An area page. Visible when a station responsible for it or for any area inside it is in
/// the principal's scope; the matters shown are those handled inside the scope.
pub async fn area(app: &App, p: &Principal, code: &str, now: DateTime<Utc>) -> Result<AreaView> {
    use minyi_store::lists::{OpinionQuery, Whose};
    p.require(Permission::ViewOpinions)?;
    if p.role == Role::DepartmentLiaison {
        return Err(AppError::NotFound);
    }
    let areas = app.store.areas().await?;
    let area = areas
        .iter()
        .find(|a| a.code.as_str() == code.trim())
        .cloned()
        .ok_or(AppError::NotFound)?;
    let tree: Vec<(i64, Option<i64>)> = areas.iter().map(|a| (a.id, a.parent_id)).collect();
    let sub = Scope::subtree(area.id, &tree);
    let in_scope = areas
        .iter()
        .any(|a| sub.contains(a.id) && a.station_id.is_some_and(|s| p.scope.contains(s)));
    if !in_scope {
        return Err(AppError::NotFound);
    }
    let mut ancestors = Vec::new();
    let mut cur = area.parent_id;
    while let Some(id) = cur {
        match areas.iter().find(|a| a.id == id) {
            Some(a) if ancestors.len() < 10 => {
                ancestors.push(a.clone());
                cur = a.parent_id;
            }
            _ => break,
        }
    }
    ancestors.reverse();
    let mut children: Vec<_> = areas
        .iter()
        .filter(|a| a.parent_id == Some(area.id))
        .cloned()
        .collect();
    children.sort_by(|a, b| a.code.as_str().cmp(b.code.as_str()));
    let station = match area.station_id.filter(|s| p.scope.contains(*s)) {
        Some(s) => app.store.unit(s).await?,
        None => None,
    };
    let officers = match &station {
        Some(s) => app.store.officers_of(s.id).await?,
        None => Vec::new(),
    };
    let whose = Whose::AreasOfUnits {
        areas: sub.units().collect(),
        units: p.scope.units().collect(),
    };
    let recent = OpinionQuery {
        limit: 20,
        descending: true,
        ..Default::default()
    };
    let (opinions, opinions_total) = app.store.opinion_list(&whose, &recent).await?;
    let (_, overdue) = app
        .store
        .opinion_list(
            &whose,
            &OpinionQuery {
                limit: 1,
                overdue_at: Some(now),
                ..Default::default()
            },
        )
        .await?;
    let open = opinions_open(app, &whose).await?;
    Ok(AreaView {
        area,
        ancestors,
        children,
        station,
        officers,
        opinions,
        opinions_total,
        open,
        overdue,
    })
}

async fn opinions_open(app: &App, whose: &minyi_store::lists::Whose) -> Result<i64> {
    use minyi_core::opinion::OpinionState;
    let mut open = 0;
    for s in OpinionState::ALL.iter().filter(|s| s.is_open()) {
        let (_, n) = app
            .store
            .opinion_list(
                whose,
                &minyi_store::lists::OpinionQuery {
                    state: Some(*s),
                    limit: 1,
                    ..Default::default()
                },
            )
            .await?;
        open += n;
    }
    Ok(open)
}

pub struct OfficerView {
    pub officer: OfficerRow,
    pub unit: UnitRow,
    pub colleagues: Vec<OfficerRow>,
    pub areas: Vec<minyi_store::AreaRow>,
}

/// An officer's page: visible when the officer's unit is in scope.
pub async fn officer(app: &App, p: &Principal, id: &str) -> Result<OfficerView> {
    p.require(Permission::ViewOpinions)?;
    let id: i64 = id.trim().parse().map_err(|_| AppError::NotFound)?;
    let officer = app.store.officer(id).await?.ok_or(AppError::NotFound)?;
    if !p.scope.contains(officer.unit_id) {
        return Err(AppError::NotFound);
    }
    let unit = app
        .store
        .units()
        .await?
        .into_iter()
        .find(|u| u.id == officer.unit_id)
        .ok_or(AppError::NotFound)?;
    let colleagues = app
        .store
        .officers_of(unit.id)
        .await?
        .into_iter()
        .filter(|o| o.id != officer.id)
        .collect();
    let mut areas: Vec<_> = app
        .store
        .areas()
        .await?
        .into_iter()
        .filter(|a| a.station_id == Some(unit.id))
        .collect();
    areas.sort_by(|a, b| a.code.as_str().cmp(b.code.as_str()));
    Ok(OfficerView {
        officer,
        unit,
        colleagues,
        areas,
    })
}
