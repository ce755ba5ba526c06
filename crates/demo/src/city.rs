//! The synthetic city: a Baoshan-shaped bureau with the five real county names and
//! everything below them invented — 72 townships each with its station, 871 villages,
//! about 2.6 million residents, officers, windows and linked departments.

use minyi_core::org::{
    AreaKind, GeoPoint, NewArea, NewOfficer, NewUnit, OfficerRole, UnitKind, WindowKind,
};
use minyi_core::taxonomy::DepartmentKind;
use minyi_core::{Code, PhoneNumber};
use rand::Rng;

use crate::names;

/// A county as the demo draws it: real name, invented everything below.
pub struct CountySpec {
    pub key: &'static str,
    pub name: &'static str,
    pub bureau: &'static str,
    pub townships: usize,
    pub villages: usize,
    pub population: u32,
    /// A rough centre, for schematic map cells.
    pub lon: f64,
    pub lat: f64,
}

/// 72 townships and 871 villages as DOMAIN.md gives them; Shidian's 12 townships and 129
/// villages are the document's own figures, the rest is a plausible split.
pub const COUNTIES: [CountySpec; 5] = [
    CountySpec {
        key: "LY",
        name: "隆阳区",
        bureau: "保山市公安局隆阳分局",
        townships: 18,
        villages: 250,
        population: 950_000,
        lon: 99.17,
        lat: 25.12,
    },
    CountySpec {
        key: "SD",
        name: "施甸县",
        bureau: "施甸县公安局",
        townships: 12,
        villages: 129,
        population: 330_000,
        lon: 99.19,
        lat: 24.73,
    },
    CountySpec {
        key: "TC",
        name: "腾冲市",
        bureau: "腾冲市公安局",
        townships: 19,
        villages: 225,
        population: 680_000,
        lon: 98.49,
        lat: 25.02,
    },
    CountySpec {
        key: "LL",
        name: "龙陵县",
        bureau: "龙陵县公安局",
        townships: 10,
        villages: 118,
        population: 280_000,
        lon: 98.69,
        lat: 24.59,
    },
    CountySpec {
        key: "CN",
        name: "昌宁县",
        bureau: "昌宁县公安局",
        townships: 13,
        villages: 149,
        population: 350_000,
        lon: 99.60,
        lat: 24.83,
    },
];

pub const CITY_CODE: &str = "BS";
pub const COMMAND_CENTRE_CODE: &str = "BS-110";

/// Linked departments beside the police tree, under the city bureau.
pub const DEPARTMENTS: [(DepartmentKind, &str, &str); 8] = [
    (
        DepartmentKind::HousingConstruction,
        "BS-D-HOUSING",
        "市住房和城乡建设局",
    ),
    (DepartmentKind::Land, "BS-D-LAND", "市自然资源和规划局"),
    (DepartmentKind::Petition, "BS-D-PETITION", "市信访局"),
    (DepartmentKind::Health, "BS-D-HEALTH", "市卫生健康委员会"),
    (
        DepartmentKind::Labour,
        "BS-D-LABOUR",
        "市人力资源和社会保障局",
    ),
    (
        DepartmentKind::MarketRegulation,
        "BS-D-MARKET",
        "市市场监督管理局",
    ),
    (
        DepartmentKind::Utilities,
        "BS-D-UTILITIES",
        "市供水供电联动办公室",
    ),
    (DepartmentKind::Education, "BS-D-EDUCATION", "市教育体育局"),
];

/// A station with what the activity generator needs to know about it.
#[derive(Debug, Clone)]
pub struct StationInfo {
    pub code: Code,
    pub county: usize,
    pub county_bureau: Code,
    pub township: String,
    pub population: u32,
    /// Windows at this station with a rating device.
    pub windows: Vec<(Code, WindowKind)>,
    /// Villages (area code, name, population) the station is responsible for.
    pub villages: Vec<(Code, String, u32)>,
    /// How well this station serves residents, 0..1; drives satisfaction in the activity.
    pub quality: f64,
}

/// The city: rows to store, and the facts the activity generator draws on.
pub struct City {
    pub units: Vec<NewUnit>,
    pub areas: Vec<NewArea>,
    pub officers: Vec<NewOfficer>,
    pub stations: Vec<StationInfo>,
    /// County-level windows (vehicle administration, exit-entry): (county index, code, kind).
    pub county_windows: Vec<(usize, Code, WindowKind)>,
    pub population: u64,
}

fn code(s: String) -> Code {
    // Codes are built here from ASCII parts; a failure is a bug in this file, not input.
    Code::parse(&s).unwrap_or_else(|e| unreachable!("demo code {s}: {e}"))
}

fn unit(c: &Code, kind: UnitKind, name: String, parent: &Code) -> NewUnit {
    NewUnit {
        code: c.clone(),
        kind,
        name,
        parent: Some(parent.clone()),
        window: None,
        department: None,
        synthetic: true,
    }
}

fn window(c: &Code, kind: WindowKind, name: String, parent: &Code) -> NewUnit {
    NewUnit {
        window: Some(kind),
        ..unit(c, UnitKind::Window, name, parent)
    }
}

/// An officer with an invented name; chiefs and instructors get a (fictional) duty phone.
fn officer(rng: &mut impl Rng, unit: &Code, role: OfficerRole) -> NewOfficer {
    let name = names::person_name(rng);
    let duty_phone = match role {
        OfficerRole::Chief | OfficerRole::Instructor => duty_phone(rng),
        OfficerRole::CommunityOfficer | OfficerRole::WindowStaff => None,
    };
    NewOfficer {
        unit: unit.clone(),
        name,
        role,
        duty_phone,
        synthetic: true,
    }
}

/// Splits `total` into `n` positive parts with random weights (each at least `min`).
fn split(rng: &mut impl Rng, total: u64, n: usize, min: u64) -> Vec<u64> {
    let weights: Vec<f64> = (0..n).map(|_| 0.4 + rng.random::<f64>() * 1.6).collect();
    let sum: f64 = weights.iter().sum();
    let spare = total.saturating_sub(min * n as u64) as f64;
    let mut parts: Vec<u64> = weights
        .iter()
        .map(|w| min + (spare * w / sum).floor() as u64)
        .collect();
    let mut rest = total.saturating_sub(parts.iter().sum());
    let mut i = 0;
    while rest > 0 {
        parts[i % n] += 1;
        rest -= 1;
        i += 1;
    }
    parts
}

/// A fictional duty phone: Baoshan's area code with a local number starting with 0,
/// which no real local number does.
fn duty_phone(rng: &mut impl Rng) -> Option<PhoneNumber> {
    PhoneNumber::parse(&format!("0875-0{:06}", rng.random_range(0..1_000_000u32))).ok()
}

pub fn build(rng: &mut impl Rng) -> City {
    let city = code(CITY_CODE.into());
    let mut units = vec![NewUnit {
        code: city.clone(),
        kind: UnitKind::CityBureau,
        name: "保山市公安局".into(),
        parent: None,
        window: None,
        department: None,
        synthetic: true,
    }];
    units.push(unit(
        &code(COMMAND_CENTRE_CODE.into()),
        UnitKind::Team,
        "市局110指挥中心".into(),
        &city,
    ));
    for (kind, c, name) in DEPARTMENTS {
        units.push(NewUnit {
            department: Some(kind),
            ..unit(&code(c.into()), UnitKind::Department, name.into(), &city)
        });
    }
    let mut areas = Vec::new();
    let mut officers = Vec::new();
    let mut stations = Vec::new();
    let mut county_windows = Vec::new();
    let total_townships: usize = COUNTIES.iter().map(|c| c.townships).sum();
    let total_villages: usize = COUNTIES.iter().map(|c| c.villages).sum();
    let township_names = names::township_names(rng, total_townships);
    let village_names = names::village_names(rng, total_villages);
    let (mut tn, mut vn) = (township_names.into_iter(), village_names.into_iter());
    let mut population = 0u64;

    for (ci, county) in COUNTIES.iter().enumerate() {
        let bureau = code(format!("BS-{}", county.key));
        units.push(unit(
            &bureau,
            UnitKind::CountyBureau,
            county.bureau.into(),
            &city,
        ));
        officers.push(officer(rng, &bureau, OfficerRole::Chief));
        for (suffix, kind, name) in [
            ("WV", WindowKind::Vehicle, "车管所业务窗口"),
            ("WX", WindowKind::ExitEntry, "出入境业务窗口"),
        ] {
            let w = code(format!("{bureau}-{suffix}"));
            units.push(window(&w, kind, format!("{}{name}", county.name), &bureau));
            officers.push(officer(rng, &w, OfficerRole::WindowStaff));
            county_windows.push((ci, w, kind));
        }
        let county_area = code(format!("A-{}", county.key));
        areas.push(NewArea {
            code: county_area.clone(),
            kind: AreaKind::County,
            name: county.name.into(),
            parent: None,
            station: None,
            population: county.population,
            centre: GeoPoint::parse(county.lon, county.lat).ok(),
            synthetic: true,
        });
        population += county.population as u64;
        let township_pop = split(rng, county.population as u64, county.townships, 4_000);
        let villages_per = split(rng, county.villages as u64, county.townships, 4);
        for t in 0..county.townships {
            let tname = tn.next().unwrap_or_else(|| format!("第{t}镇"));
            let station = code(format!("{bureau}-S{:02}", t + 1));
            let base = tname
                .trim_end_matches("街道")
                .trim_end_matches(['镇', '乡']);
            units.push(unit(
                &station,
                UnitKind::Station,
                format!("{base}派出所"),
                &bureau,
            ));
            let quality = 0.55 + 0.45 * rng.random::<f64>();
            for role in [OfficerRole::Chief, OfficerRole::Instructor] {
                officers.push(officer(rng, &station, role));
            }
            for _ in 0..rng.random_range(2..=6) {
                officers.push(officer(rng, &station, OfficerRole::CommunityOfficer));
            }
            let mut windows = vec![(code(format!("{station}-WH")), WindowKind::Household)];
            if rng.random_bool(0.6) {
                windows.push((code(format!("{station}-WP")), WindowKind::PublicOrderPermit));
            }
            for (w, kind) in &windows {
                let name = match kind {
                    WindowKind::Household => "户政窗口",
                    _ => "治安办证窗口",
                };
                units.push(window(w, *kind, format!("{base}派出所{name}"), &station));
                officers.push(officer(rng, w, OfficerRole::WindowStaff));
            }
            let township_code = code(format!("{county_area}-{:02}", t + 1));
            let (tlon, tlat) = (
                county.lon + rng.random_range(-0.3..0.3),
                county.lat + rng.random_range(-0.25..0.25),
            );
            areas.push(NewArea {
                code: township_code.clone(),
                kind: AreaKind::Township,
                name: tname.clone(),
                parent: Some(county_area.clone()),
                station: Some(station.clone()),
                population: township_pop[t] as u32,
                centre: GeoPoint::parse(tlon, tlat).ok(),
                synthetic: true,
            });
            let n_villages = villages_per[t] as usize;
            let village_pop = split(rng, township_pop[t], n_villages, 300);
            let mut villages = Vec::with_capacity(n_villages);
            for (v, &vpop) in village_pop.iter().enumerate() {
                let vname = vn.next().unwrap_or_else(|| format!("第{v}村"));
                let vcode = code(format!("{township_code}-{:03}", v + 1));
                areas.push(NewArea {
                    code: vcode.clone(),
                    kind: AreaKind::Village,
                    name: vname.clone(),
                    parent: Some(township_code.clone()),
                    station: Some(station.clone()),
                    population: vpop as u32,
                    centre: GeoPoint::parse(
                        tlon + rng.random_range(-0.06..0.06),
                        tlat + rng.random_range(-0.05..0.05),
                    )
                    .ok(),
                    synthetic: true,
                });
                villages.push((vcode, vname, vpop as u32));
            }
            stations.push(StationInfo {
                code: station,
                county: ci,
                county_bureau: bureau.clone(),
                township: tname,
                population: township_pop[t] as u32,
                windows,
                villages,
                quality,
            });
        }
    }
    City {
        units,
        areas,
        officers,
        stations,
        county_windows,
        population,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn has_the_documented_shape() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let city = build(&mut rng);
        let count = |k| city.areas.iter().filter(|a| a.kind == k).count();
        assert_eq!(count(AreaKind::County), 5);
        assert_eq!(count(AreaKind::Township), 72);
        assert_eq!(count(AreaKind::Village), 871);
        assert_eq!(city.stations.len(), 72);
        assert_eq!(
            city.units
                .iter()
                .filter(|u| u.kind == UnitKind::Station)
                .count(),
            72
        );
        let shidian: Vec<_> = city.stations.iter().filter(|s| s.county == 1).collect();
        assert_eq!(shidian.len(), 12);
        assert_eq!(shidian.iter().map(|s| s.villages.len()).sum::<usize>(), 129);
        assert_eq!(city.population, 2_590_000);
        let village_pop: u64 = city
            .areas
            .iter()
            .filter(|a| a.kind == AreaKind::Village)
            .map(|a| a.population as u64)
            .sum();
        assert_eq!(village_pop, city.population);
        assert!(
            city.units
                .iter()
                .chain([])
                .all(|u| u.synthetic && u.check().is_ok())
        );
        assert!(city.areas.iter().all(|a| a.synthetic && a.check().is_ok()));
        let mut codes: Vec<_> = city.units.iter().map(|u| u.code.as_str()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), city.units.len(), "unit codes are unique");
        let chiefs = city
            .officers
            .iter()
            .filter(|o| o.role == OfficerRole::Chief)
            .count();
        assert_eq!(chiefs, 72 + 5);
    }
}
