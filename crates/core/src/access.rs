//! Who may do what, and over which units: roles, permissions and the unit-subtree scope.
//!
//! The rules are data here so that the web layer, the CLI and the authorization-matrix
//! test all ask the same function. Enforcement happens where data is read and written
//! (`minyi-app`), never by hiding links.

use std::collections::BTreeSet;

use crate::taxonomy::vocabulary;

vocabulary! {
    /// A staff account's role (角色). Every account also belongs to one unit and sees
    /// that unit's subtree only.
    Role, "role" {
        Admin => "admin", "系统管理员";
        CityAnalyst => "city_analyst", "市局研判员";
        CountyAnalyst => "county_analyst", "县局研判员";
        StationStaff => "station_staff", "派出所民警";
        DepartmentLiaison => "department_liaison", "联动部门联络员";
        SurveyAgency => "survey_agency", "测评机构";
        Leader => "leader", "领导（只读）";
    }
}

vocabulary! {
    /// What a machine identity (API key or device token) may do. A key is scoped to one
    /// unit and one purpose.
    KeyPurpose, "API key purpose" {
        Open311 => "open311", "Open311 / 接口提交";
        Kiosk => "kiosk", "窗口评价器";
        Import => "import", "数据导入";
        Sms => "sms", "短信网关";
    }
}

/// A capability a role may hold. Holding it is necessary, never sufficient: the object
/// must also lie in the account's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Read opinions, their timelines and dashboards of the own subtree.
    ViewOpinions,
    /// Sign off, respond, return, extend: change an opinion's state.
    HandleOpinions,
    /// See a resident's name, phone, ID number or address in full (with a typed reason).
    RevealPersonalData,
    /// Create, disable and reset accounts within the own subtree.
    ManageAccounts,
    /// Issue and revoke API keys and device tokens.
    ManageApiKeys,
    /// Read and verify the audit log.
    ViewAudit,
    /// Enter and manage survey fieldwork (never residents' identities).
    SurveyWork,
    /// Run and publish assessments.
    RunAssessment,
    /// Work the analysis workspaces: confirm and relabel triage, merge, escalate key
    /// opinions (county), decide escalations and assign jointly (city).
    AnalyseOpinions,
}

impl Permission {
    pub const ALL: &'static [Permission] = &[
        Permission::ViewOpinions,
        Permission::HandleOpinions,
        Permission::RevealPersonalData,
        Permission::ManageAccounts,
        Permission::ManageApiKeys,
        Permission::ViewAudit,
        Permission::SurveyWork,
        Permission::RunAssessment,
        Permission::AnalyseOpinions,
    ];
}

impl Role {
    /// The permission table. A leader reads and never writes or reveals; the survey
    /// agency does survey work and nothing else; the administrator manages accounts,
    /// keys and the audit log but cannot read residents' identities.
    pub fn may(self, p: Permission) -> bool {
        use Permission::*;
        use Role::*;
        match self {
            Admin => matches!(p, ViewOpinions | ManageAccounts | ManageApiKeys | ViewAudit),
            CityAnalyst => matches!(
                p,
                ViewOpinions
                    | HandleOpinions
                    | RevealPersonalData
                    | RunAssessment
                    | ViewAudit
                    | AnalyseOpinions
            ),
            CountyAnalyst => matches!(
                p,
                ViewOpinions | HandleOpinions | RevealPersonalData | AnalyseOpinions
            ),
            StationStaff => matches!(p, ViewOpinions | HandleOpinions | RevealPersonalData),
            DepartmentLiaison => matches!(p, ViewOpinions | HandleOpinions | RevealPersonalData),
            SurveyAgency => matches!(p, SurveyWork),
            Leader => matches!(p, ViewOpinions),
        }
    }

    /// Whether an opinion is visible through the routing to a department rather than
    /// through the unit tree: a liaison sees only matters routed to their department.
    pub fn sees_by_department(self) -> bool {
        self == Role::DepartmentLiaison
    }
}

/// The set of unit ids an account may see: its own unit and everything below it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    root: i64,
    units: BTreeSet<i64>,
}

impl Scope {
    /// The subtree of `root` given every unit as `(id, parent_id)`. Cycles cannot occur
    /// (the store refuses them) but are cut anyway, so a damaged tree never loops.
    pub fn subtree(root: i64, units: &[(i64, Option<i64>)]) -> Scope {
        let mut children: std::collections::HashMap<i64, Vec<i64>> =
            std::collections::HashMap::new();
        for &(id, parent) in units {
            if let Some(p) = parent {
                children.entry(p).or_default().push(id);
            }
        }
        let mut set = BTreeSet::new();
        let mut stack = vec![root];
        while let Some(u) = stack.pop() {
            if set.insert(u)
                && let Some(c) = children.get(&u)
            {
                stack.extend(c.iter().copied());
            }
        }
        Scope { root, units: set }
    }

    pub fn root(&self) -> i64 {
        self.root
    }

    pub fn contains(&self, unit_id: i64) -> bool {
        self.units.contains(&unit_id)
    }

    pub fn units(&self) -> impl Iterator<Item = i64> + '_ {
        self.units.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

/// Where an opinion sits, for the visibility rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpinionPlace {
    pub unit_id: Option<i64>,
    pub department_id: Option<i64>,
}

/// May an account of `role` with `scope` read this opinion? A liaison through the
/// department it was routed to; everyone else with `ViewOpinions` through the unit tree.
/// An opinion not yet routed to any unit is visible only to those scoped at the root of
/// the tree, who triage it (`scope_is_city`).
pub fn may_view_opinion(role: Role, scope: &Scope, scope_is_city: bool, o: OpinionPlace) -> bool {
    if !role.may(Permission::ViewOpinions) {
        return false;
    }
    if role.sees_by_department() {
        return o.department_id.is_some_and(|d| scope.contains(d));
    }
    match o.unit_id {
        Some(u) => scope.contains(u),
        None => scope_is_city,
    }
}

/// Failed sign-ins before an account is locked for a while, and how long each failure
/// makes the next attempt wait: 0 s for the first few, then doubling, capped.
pub const LOCK_AFTER_FAILURES: i64 = 10;
pub const LOCK_MINUTES: i64 = 15;

/// The wait before the next sign-in attempt is considered after `failures` consecutive
/// failures: none for the first three (typos), then 1, 2, 4 … seconds up to 60.
pub fn sign_in_backoff_secs(failures: i64) -> i64 {
    if failures < 3 {
        0
    } else {
        let exp = (failures - 3).min(6) as u32;
        (1i64 << exp).min(60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_follows_parents_and_ignores_other_branches() {
        let units = [
            (1, None),
            (2, Some(1)),
            (3, Some(1)),
            (4, Some(2)),
            (5, Some(3)),
            (6, Some(6)), // a self-loop must not hang
        ];
        let s = Scope::subtree(2, &units);
        assert_eq!(s.units().collect::<Vec<_>>(), vec![2, 4]);
        assert!(!s.contains(3) && !s.contains(1));
        assert_eq!(Scope::subtree(1, &units).len(), 5);
        assert_eq!(Scope::subtree(6, &units).len(), 1);
    }

    #[test]
    fn leaders_only_read_and_the_survey_agency_sees_no_opinions() {
        for p in Permission::ALL {
            assert_eq!(
                Role::Leader.may(*p),
                *p == Permission::ViewOpinions,
                "{p:?}"
            );
            assert_eq!(
                Role::SurveyAgency.may(*p),
                *p == Permission::SurveyWork,
                "{p:?}"
            );
        }
        assert!(!Role::Admin.may(Permission::RevealPersonalData));
    }

    #[test]
    fn opinion_visibility() {
        let units = [(1, None), (2, Some(1)), (3, Some(1)), (9, Some(1))];
        let station = Scope::subtree(2, &units);
        let dept = Scope::subtree(9, &units);
        let here = OpinionPlace {
            unit_id: Some(2),
            department_id: Some(9),
        };
        let there = OpinionPlace {
            unit_id: Some(3),
            department_id: None,
        };
        assert!(may_view_opinion(Role::StationStaff, &station, false, here));
        assert!(!may_view_opinion(
            Role::StationStaff,
            &station,
            false,
            there
        ));
        assert!(may_view_opinion(
            Role::DepartmentLiaison,
            &dept,
            false,
            here
        ));
        assert!(!may_view_opinion(
            Role::DepartmentLiaison,
            &dept,
            false,
            there
        ));
        let unrouted = OpinionPlace {
            unit_id: None,
            department_id: None,
        };
        assert!(!may_view_opinion(
            Role::StationStaff,
            &station,
            false,
            unrouted
        ));
        assert!(may_view_opinion(
            Role::CityAnalyst,
            &Scope::subtree(1, &units),
            true,
            unrouted
        ));
        assert!(!may_view_opinion(
            Role::SurveyAgency,
            &Scope::subtree(1, &units),
            true,
            here
        ));
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(sign_in_backoff_secs(0), 0);
        assert_eq!(sign_in_backoff_secs(2), 0);
        assert_eq!(sign_in_backoff_secs(3), 1);
        assert_eq!(sign_in_backoff_secs(4), 2);
        assert_eq!(sign_in_backoff_secs(9), 60);
        assert_eq!(sign_in_backoff_secs(100), 60);
    }
}
