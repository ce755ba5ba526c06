//! The organisation and the map: units as a tree (city bureau → county bureaus →
//! stations → windows and teams), linked non-police departments beside the tree, areas
//! as a tree (county → township → village → grid cell), and officers.

use crate::code::Code;
use crate::contact::PhoneNumber;
use crate::error::ParseError;
use crate::taxonomy::{DepartmentKind, vocabulary};

vocabulary! {
    /// What kind of unit a node of the unit tree is.
    UnitKind, "unit kind" {
        CityBureau => "city_bureau", "市公安局";
        CountyBureau => "county_bureau", "县（区）公安局";
        Station => "station", "派出所";
        Window => "window", "服务窗口";
        Team => "team", "警队";
        Department => "department", "联动部门";
    }
}

vocabulary! {
    /// The service a window offers; each has a rating device.
    WindowKind, "window kind" {
        Household => "household", "户政窗口";
        PublicOrderPermit => "public_order_permit", "治安办证窗口";
        ExitEntry => "exit_entry", "出入境窗口";
        Vehicle => "vehicle", "车管窗口";
    }
}

vocabulary! {
    /// A level of the area tree.
    AreaKind, "area kind" {
        County => "county", "县（区）";
        Township => "township", "乡镇（街道）";
        Village => "village", "村（社区）";
        GridCell => "grid_cell", "网格";
    }
}

vocabulary! {
    /// An officer's role at a unit.
    OfficerRole, "officer role" {
        Chief => "chief", "所长";
        Instructor => "instructor", "教导员";
        CommunityOfficer => "community_officer", "社区民警";
        WindowStaff => "window_staff", "窗口工作人员";
    }
}

impl UnitKind {
    /// Which kinds may sit directly under a unit of this kind. Departments sit beside
    /// the police tree: under the city or a county bureau, never under a station.
    pub fn may_contain(self, child: UnitKind) -> bool {
        use UnitKind::*;
        matches!(
            (self, child),
            (CityBureau, CountyBureau | Team | Window | Department)
                | (CountyBureau, Station | Team | Window | Department)
                | (Station, Window | Team)
        )
    }
}

impl AreaKind {
    pub fn may_contain(self, child: AreaKind) -> bool {
        use AreaKind::*;
        matches!(
            (self, child),
            (County, Township) | (Township, Village) | (Village, GridCell)
        )
    }
}

/// A longitude/latitude pair in degrees (WGS-84 as delivered; GCJ-02 sources must be
/// converted before import).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GeoPoint {
    pub lon: f64,
    pub lat: f64,
}

impl GeoPoint {
    pub fn parse(lon: f64, lat: f64) -> Result<GeoPoint, ParseError> {
        if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
            return Err(ParseError::Invalid {
                what: "longitude",
                why: format!("{lon} is outside -180..180"),
            });
        }
        if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
            return Err(ParseError::Invalid {
                what: "latitude",
                why: format!("{lat} is outside -90..90"),
            });
        }
        Ok(GeoPoint { lon, lat })
    }
}

/// A unit to be created; `parent` refers to an existing unit by code.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewUnit {
    pub code: Code,
    pub kind: UnitKind,
    pub name: String,
    pub parent: Option<Code>,
    pub window: Option<WindowKind>,
    pub department: Option<DepartmentKind>,
    pub synthetic: bool,
}

impl NewUnit {
    /// Checks what can be checked without the tree: the name and that the window and
    /// department details fit the kind.
    pub fn check(&self) -> Result<(), ParseError> {
        check_name("unit name", &self.name)?;
        if (self.kind == UnitKind::Window) != self.window.is_some() {
            return Err(ParseError::Invalid {
                what: "unit",
                why: format!("{}: a window kind is given exactly for windows", self.code),
            });
        }
        if (self.kind == UnitKind::Department) != self.department.is_some() {
            return Err(ParseError::Invalid {
                what: "unit",
                why: format!(
                    "{}: a department kind is given exactly for departments",
                    self.code
                ),
            });
        }
        if (self.kind == UnitKind::CityBureau) == self.parent.is_some() {
            return Err(ParseError::Invalid {
                what: "unit",
                why: format!(
                    "{}: the city bureau is the only unit without a parent",
                    self.code
                ),
            });
        }
        Ok(())
    }
}

/// An area to be created. Townships and villages name their responsible station.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewArea {
    pub code: Code,
    pub kind: AreaKind,
    pub name: String,
    pub parent: Option<Code>,
    pub station: Option<Code>,
    pub population: u32,
    pub centre: Option<GeoPoint>,
    pub synthetic: bool,
}

impl NewArea {
    pub fn check(&self) -> Result<(), ParseError> {
        check_name("area name", &self.name)?;
        if (self.kind == AreaKind::County) == self.parent.is_some() {
            return Err(ParseError::Invalid {
                what: "area",
                why: format!(
                    "{}: counties, and only counties, have no parent area",
                    self.code
                ),
            });
        }
        if matches!(self.kind, AreaKind::Township | AreaKind::Village) && self.station.is_none() {
            return Err(ParseError::Invalid {
                what: "area",
                why: format!(
                    "{}: a township or village needs a responsible station",
                    self.code
                ),
            });
        }
        Ok(())
    }
}

/// An officer to be created at a unit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewOfficer {
    pub unit: Code,
    pub name: String,
    pub role: OfficerRole,
    /// The public duty phone shown on contact cards (a chief's is published on purpose).
    pub duty_phone: Option<PhoneNumber>,
    pub synthetic: bool,
}

/// Names of units, areas and officers: 1–100 characters, no control characters.
pub fn check_name(what: &'static str, name: &str) -> Result<(), ParseError> {
    let n = name.trim().chars().count();
    if n == 0 {
        return Err(ParseError::Empty { what });
    }
    if n > 100 {
        return Err(ParseError::TooLong {
            what,
            len: n,
            max: 100,
        });
    }
    if name.chars().any(char::is_control) {
        return Err(ParseError::Invalid {
            what,
            why: "contains control characters".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_shape_rules() {
        assert!(UnitKind::CityBureau.may_contain(UnitKind::CountyBureau));
        assert!(UnitKind::CountyBureau.may_contain(UnitKind::Station));
        assert!(UnitKind::Station.may_contain(UnitKind::Window));
        assert!(!UnitKind::Station.may_contain(UnitKind::Department));
        assert!(!UnitKind::Window.may_contain(UnitKind::Window));
        assert!(AreaKind::Township.may_contain(AreaKind::Village));
        assert!(!AreaKind::County.may_contain(AreaKind::Village));
    }

    #[test]
    fn new_unit_checks_kind_details() {
        let mut u = NewUnit {
            code: Code::parse("W1").unwrap(),
            kind: UnitKind::Window,
            name: "户政窗口".into(),
            parent: Some(Code::parse("S1").unwrap()),
            window: None,
            department: None,
            synthetic: true,
        };
        assert!(u.check().is_err());
        u.window = Some(WindowKind::Household);
        assert!(u.check().is_ok());
        u.parent = None;
        assert!(u.check().is_err());
    }

    #[test]
    fn geo_point_bounds() {
        assert!(GeoPoint::parse(99.16, 25.12).is_ok());
        assert!(GeoPoint::parse(f64::NAN, 25.0).is_err());
        assert!(GeoPoint::parse(99.0, 95.0).is_err());
    }
}
