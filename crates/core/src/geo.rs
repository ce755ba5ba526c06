//! Area boundaries: a GeoJSON Polygon or MultiPolygon parsed into one checked shape, for
//! drawing the map and placing labels and points on it.
//!
//! Coordinates are longitude/latitude in degrees, WGS-84 as delivered (GCJ-02 sources
//! must be converted before import). A `Geometry` is valid by construction: every ring is
//! closed, has at least four points and encloses some area, every coordinate is finite
//! and in range, and the whole holds at most [`Geometry::MAX_POINTS`] points. Rings are
//! stored in RFC 7946 orientation (outer rings counter-clockwise, holes clockwise).
//! Self-intersection is not checked: a crossed ring still draws, it only fills oddly.
//! This module must not do IO; it only parses, measures and writes text.

use serde_json::Value;

use crate::error::ParseError;

/// One polygon: an outer ring first, then any holes. Each ring is closed (first point ==
/// last point) and each point is (longitude, latitude).
pub type Polygon = Vec<Vec<(f64, f64)>>;

/// A MultiPolygon: one or more polygons (a Polygon is a MultiPolygon of one).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Geometry {
    pub polygons: Vec<Polygon>,
}

/// A bounding box in degrees.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct BBox {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

impl BBox {
    /// The smallest box holding both.
    pub fn union(self, other: BBox) -> BBox {
        BBox {
            min_lon: self.min_lon.min(other.min_lon),
            min_lat: self.min_lat.min(other.min_lat),
            max_lon: self.max_lon.max(other.max_lon),
            max_lat: self.max_lat.max(other.max_lat),
        }
    }

    /// Whether the interiors overlap; boxes that only touch along an edge do not.
    pub fn overlaps(&self, other: &BBox) -> bool {
        self.min_lon < other.max_lon
            && other.min_lon < self.max_lon
            && self.min_lat < other.max_lat
            && other.min_lat < self.max_lat
    }

    /// Whether `other` lies wholly inside this box (edges included).
    pub fn contains(&self, other: &BBox) -> bool {
        self.min_lon <= other.min_lon
            && self.min_lat <= other.min_lat
            && other.max_lon <= self.max_lon
            && other.max_lat <= self.max_lat
    }

    pub fn width(&self) -> f64 {
        self.max_lon - self.min_lon
    }

    pub fn height(&self) -> f64 {
        self.max_lat - self.min_lat
    }
}

fn invalid(why: String) -> ParseError {
    ParseError::Invalid {
        what: "geometry",
        why,
    }
}

impl Geometry {
    /// The most points one geometry may hold: a detailed village boundary needs a few
    /// thousand; more is a mistake (or a whole province) and would make the map unusable.
    pub const MAX_POINTS: usize = 100_000;

    /// Checks polygons built in code (or taken apart from a parse) the same way a parsed
    /// file is checked: rings are closed if open, then validated and oriented.
    pub fn new(polygons: Vec<Polygon>) -> Result<Geometry, ParseError> {
        if polygons.is_empty() {
            return Err(invalid("it has no polygons".into()));
        }
        let mut total = 0usize;
        let mut out = Vec::with_capacity(polygons.len());
        for (pi, polygon) in polygons.into_iter().enumerate() {
            let p = pi + 1;
            if polygon.is_empty() {
                return Err(invalid(format!("polygon {p} has no rings")));
            }
            let mut rings = Vec::with_capacity(polygon.len());
            for (ri, mut ring) in polygon.into_iter().enumerate() {
                let r = ri + 1;
                for (qi, &(lon, lat)) in ring.iter().enumerate() {
                    let q = qi + 1;
                    if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
                        return Err(invalid(format!(
                            "polygon {p}, ring {r}, point {q}: longitude {lon} out of range (-180..180)"
                        )));
                    }
                    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                        return Err(invalid(format!(
                            "polygon {p}, ring {r}, point {q}: latitude {lat} out of range (-90..90)"
                        )));
                    }
                }
                // Many tools leave rings open; closing one changes no shape.
                if let (Some(&first), Some(&last)) = (ring.first(), ring.last())
                    && first != last
                {
                    ring.push(first);
                }
                if ring.len() < 4 {
                    return Err(invalid(format!(
                        "polygon {p}, ring {r}: {} points, a closed ring needs at least 4",
                        ring.len()
                    )));
                }
                total += ring.len();
                if total > Self::MAX_POINTS {
                    return Err(invalid(format!(
                        "more than {} points (reached at polygon {p}, ring {r}); simplify the boundary",
                        Self::MAX_POINTS
                    )));
                }
                let area = signed_area(&ring);
                if area == 0.0 {
                    return Err(invalid(format!("polygon {p}, ring {r}: encloses no area")));
                }
                // Outer rings counter-clockwise, holes clockwise (RFC 7946 §3.1.6).
                let outer = ri == 0;
                if (area > 0.0) != outer {
                    ring.reverse();
                }
                rings.push(ring);
            }
            out.push(rings);
        }
        Ok(Geometry { polygons: out })
    }

    /// Parses GeoJSON text holding one geometry object of type Polygon or MultiPolygon.
    pub fn parse_geojson(text: &str) -> Result<Geometry, ParseError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            invalid(format!(
                "not JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        Self::from_geojson_value(&value)
    }

    /// As [`Geometry::parse_geojson`], from an already parsed JSON value (a feature's
    /// `geometry` member).
    pub fn from_geojson_value(value: &Value) -> Result<Geometry, ParseError> {
        let obj = value.as_object().ok_or_else(|| {
            invalid(format!(
                "expected a GeoJSON geometry object, found {}",
                kind_of(value)
            ))
        })?;
        let ty = obj
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("the geometry has no \"type\"".into()))?;
        let coords = obj
            .get("coordinates")
            .ok_or_else(|| invalid(format!("the {ty} has no \"coordinates\"")))?;
        let polygons = match ty {
            "Polygon" => vec![polygon(coords, 1)?],
            "MultiPolygon" => array(coords, || "the MultiPolygon's coordinates".into())?
                .iter()
                .enumerate()
                .map(|(i, p)| polygon(p, i + 1))
                .collect::<Result<Vec<_>, _>>()?,
            other => {
                return Err(invalid(format!(
                    "type `{}` is not a Polygon or MultiPolygon",
                    other.escape_debug()
                )));
            }
        };
        Self::new(polygons)
    }

    /// The GeoJSON geometry object: a Polygon when there is one polygon, else a
    /// MultiPolygon. Parsing it gives back an equal geometry.
    pub fn to_geojson(&self) -> String {
        let polys: Vec<Value> = self.polygons.iter().map(polygon_value).collect();
        let value = match <[Value; 1]>::try_from(polys) {
            Ok([one]) => serde_json::json!({"type": "Polygon", "coordinates": one}),
            Err(many) => serde_json::json!({"type": "MultiPolygon", "coordinates": many}),
        };
        value.to_string()
    }

    /// All polygons of several geometries as one MultiPolygon — how a township's shape
    /// is made from its villages' when no boundary of its own is known. Overlaps are not
    /// dissolved. None when given nothing or more than [`Geometry::MAX_POINTS`] points.
    pub fn merge<'a>(parts: impl IntoIterator<Item = &'a Geometry>) -> Option<Geometry> {
        let polygons: Vec<Polygon> = parts
            .into_iter()
            .flat_map(|g| g.polygons.iter().cloned())
            .collect();
        if polygons.is_empty() {
            return None;
        }
        let g = Geometry { polygons };
        (g.point_count() <= Self::MAX_POINTS).then_some(g)
    }

    pub fn point_count(&self) -> usize {
        self.polygons.iter().flatten().map(Vec::len).sum()
    }

    pub fn bbox(&self) -> BBox {
        let mut b = BBox {
            min_lon: f64::INFINITY,
            min_lat: f64::INFINITY,
            max_lon: f64::NEG_INFINITY,
            max_lat: f64::NEG_INFINITY,
        };
        // Holes lie inside their outer ring, so outer rings suffice.
        for &(lon, lat) in self.polygons.iter().filter_map(|p| p.first()).flatten() {
            b.min_lon = b.min_lon.min(lon);
            b.min_lat = b.min_lat.min(lat);
            b.max_lon = b.max_lon.max(lon);
            b.max_lat = b.max_lat.max(lat);
        }
        b
    }

    /// Enclosed area in square degrees (holes subtracted), planar: for comparing and
    /// weighting shapes, not for reporting square kilometres.
    pub fn area(&self) -> f64 {
        self.polygons.iter().flatten().map(|r| signed_area(r)).sum()
    }

    /// The area-weighted centroid (lon, lat), in the plane of the coordinates, where a
    /// label or a count marker goes. A concave shape's centroid may lie outside it.
    pub fn centroid(&self) -> (f64, f64) {
        // Relative to one point of the shape, so large coordinates do not cancel.
        let (ox, oy) = self.polygons[0][0][0];
        let (mut a, mut cx, mut cy) = (0.0, 0.0, 0.0);
        for ring in self.polygons.iter().flatten() {
            for w in ring.windows(2) {
                let (x0, y0) = (w[0].0 - ox, w[0].1 - oy);
                let (x1, y1) = (w[1].0 - ox, w[1].1 - oy);
                let cross = x0 * y1 - x1 * y0;
                a += cross;
                cx += (x0 + x1) * cross;
                cy += (y0 + y1) * cross;
            }
        }
        if a.abs() < f64::EPSILON * 1e-6 || !a.is_finite() {
            // Holes that cancel the outer area leave no weight: the box centre will do.
            let b = self.bbox();
            return ((b.min_lon + b.max_lon) / 2.0, (b.min_lat + b.max_lat) / 2.0);
        }
        (ox + cx / (3.0 * a), oy + cy / (3.0 * a))
    }
}

/// One feature of an imported FeatureCollection, taken apart but not yet matched to an
/// area: which area it names and whether its geometry is valid.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureIn {
    /// Position in the file's `features` array, from 0 (as `features[i]` in jq).
    pub index: usize,
    /// `properties.code`, else `properties.area_code`, trimmed; an integer is taken as
    /// its digits (administrative division codes often arrive as numbers). None when the
    /// feature names no area.
    pub code: Option<String>,
    pub geometry: Result<Geometry, ParseError>,
}

/// Takes a GeoJSON FeatureCollection apart. Only a file that is not JSON or not a
/// FeatureCollection is an error; a bad feature is reported in its own `FeatureIn`, so
/// one broken boundary does not hold back the rest.
pub fn parse_feature_collection(text: &str) -> Result<Vec<FeatureIn>, ParseError> {
    let not_fc = |why: String| ParseError::Invalid {
        what: "GeoJSON file",
        why,
    };
    let value: Value = serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
        not_fc(format!(
            "not JSON: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let ty = value.get("type").and_then(Value::as_str);
    if ty != Some("FeatureCollection") {
        return Err(not_fc(match ty {
            Some(t) => format!(
                "type is `{}`, expected a FeatureCollection",
                t.escape_debug()
            ),
            None => format!(
                "expected a FeatureCollection object, found {} without a \"type\"",
                kind_of(&value)
            ),
        }));
    }
    let features = value
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| not_fc("the FeatureCollection has no \"features\" array".into()))?;
    Ok(features
        .iter()
        .enumerate()
        .map(|(index, f)| {
            let props = f.get("properties").and_then(Value::as_object);
            let code = props.and_then(|p| {
                ["code", "area_code"]
                    .iter()
                    .filter_map(|k| match p.get(*k)? {
                        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
                        _ => None,
                    })
                    .next()
            });
            let geometry = if f.get("type").and_then(Value::as_str) != Some("Feature") {
                Err(invalid(format!(
                    "features[{index}] is not a Feature (no \"type\": \"Feature\")"
                )))
            } else {
                match f.get("geometry") {
                    None | Some(Value::Null) => Err(invalid("the feature has no geometry".into())),
                    Some(g) => Geometry::from_geojson_value(g),
                }
            };
            FeatureIn {
                index,
                code,
                geometry,
            }
        })
        .collect())
}

/// Twice-halved shoelace: positive for counter-clockwise rings.
fn signed_area(ring: &[(f64, f64)]) -> f64 {
    let Some(&(ox, oy)) = ring.first() else {
        return 0.0;
    };
    ring.windows(2)
        .map(|w| (w[0].0 - ox) * (w[1].1 - oy) - (w[1].0 - ox) * (w[0].1 - oy))
        .sum::<f64>()
        / 2.0
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn array(v: &Value, what: impl FnOnce() -> String) -> Result<&Vec<Value>, ParseError> {
    v.as_array()
        .ok_or_else(|| invalid(format!("{} must be an array, found {}", what(), kind_of(v))))
}

fn polygon(v: &Value, p: usize) -> Result<Polygon, ParseError> {
    array(v, || format!("polygon {p}"))?
        .iter()
        .enumerate()
        .map(|(ri, ring)| {
            let r = ri + 1;
            array(ring, || format!("polygon {p}, ring {r}"))?
                .iter()
                .enumerate()
                .map(|(qi, point)| {
                    let q = qi + 1;
                    let at = || format!("polygon {p}, ring {r}, point {q}");
                    let xs = array(point, at)?;
                    // A third number (altitude) is allowed by GeoJSON and ignored here.
                    if !(2..=3).contains(&xs.len()) {
                        return Err(invalid(format!(
                            "{}: expected [longitude, latitude], found {} numbers",
                            at(),
                            xs.len()
                        )));
                    }
                    let num = |i: usize, name: &str| {
                        xs[i].as_f64().ok_or_else(|| {
                            invalid(format!(
                                "{}: {name} is {}, not a number",
                                at(),
                                kind_of(&xs[i])
                            ))
                        })
                    };
                    Ok((num(0, "longitude")?, num(1, "latitude")?))
                })
                .collect()
        })
        .collect()
}

fn polygon_value(p: &Polygon) -> Value {
    Value::Array(
        p.iter()
            .map(|ring| {
                Value::Array(
                    ring.iter()
                        .map(|&(lon, lat)| serde_json::json!([lon, lat]))
                        .collect(),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: f64, y: f64, s: f64) -> Vec<(f64, f64)> {
        vec![(x, y), (x + s, y), (x + s, y + s), (x, y + s), (x, y)]
    }

    #[test]
    fn polygon_parses_and_round_trips() {
        let g = Geometry::parse_geojson(
            r#"{"type":"Polygon","coordinates":[[[99,25],[99.1,25],[99.1,25.1],[99,25.1],[99,25]]]}"#,
        )
        .unwrap();
        assert_eq!(g.polygons.len(), 1);
        assert_eq!(g.point_count(), 5);
        let again = Geometry::parse_geojson(&g.to_geojson()).unwrap();
        assert_eq!(again, g);
        assert!(g.to_geojson().contains("\"Polygon\""));
    }

    #[test]
    fn multipolygon_round_trips_with_holes() {
        let mut outer = square(0.0, 0.0, 4.0);
        outer.reverse(); // clockwise in: must come out counter-clockwise
        let hole = square(1.0, 1.0, 1.0);
        let g = Geometry::new(vec![vec![outer, hole], vec![square(10.0, 10.0, 1.0)]]).unwrap();
        assert!(signed_area(&g.polygons[0][0]) > 0.0);
        assert!(signed_area(&g.polygons[0][1]) < 0.0);
        assert!((g.area() - (16.0 - 1.0 + 1.0)).abs() < 1e-9);
        let text = g.to_geojson();
        assert!(text.contains("MultiPolygon"), "{text}");
        assert_eq!(Geometry::parse_geojson(&text).unwrap(), g);
    }

    #[test]
    fn open_rings_are_closed_and_altitude_ignored() {
        let g = Geometry::parse_geojson(
            r#"{"type":"Polygon","coordinates":[[[0,0,5],[1,0,5],[1,1,5],[0,1,5]]]}"#,
        )
        .unwrap();
        assert_eq!(g.polygons[0][0].len(), 5);
        assert_eq!(g.polygons[0][0][0], g.polygons[0][0][4]);
    }

    fn err(text: &str) -> String {
        Geometry::parse_geojson(text).unwrap_err().to_string()
    }

    #[test]
    fn errors_say_what_and_where() {
        let e = err(
            r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[0,0],[1,0],[1,95.2],[0,0]]]]}"#,
        );
        assert!(
            e.contains("polygon 2, ring 1, point 3: latitude 95.2 out of range"),
            "{e}"
        );
        let e = err(r#"{"type":"Polygon","coordinates":[[[0,0],[181,0],[1,1],[0,0]]]}"#);
        assert!(
            e.contains("polygon 1, ring 1, point 2: longitude 181"),
            "{e}"
        );
        let e = err(r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[0,0]]]}"#);
        assert!(e.contains("at least 4"), "{e}");
        let e = err(r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[2,2],[0,0]]]}"#);
        assert!(e.contains("encloses no area"), "{e}");
        let e = err(r#"{"type":"Point","coordinates":[0,0]}"#);
        assert!(e.contains("`Point` is not a Polygon"), "{e}");
        let e = err(r#"{"type":"Polygon","coordinates":[[[0,"x"],[1,0],[1,1],[0,0]]]}"#);
        assert!(e.contains("point 1: latitude is a string"), "{e}");
        let e = err(r#"{"type":"Polygon","coordinates":[[[0],[1,0],[1,1],[0,0]]]}"#);
        assert!(e.contains("point 1: expected [longitude, latitude]"), "{e}");
        assert!(err(r#"{"type":"Polygon"}"#).contains("no \"coordinates\""));
        assert!(err(r#"{"type":"Polygon","coordinates":[]}"#).contains("no rings"));
        assert!(err(r#"{"type":"MultiPolygon","coordinates":[]}"#).contains("no polygons"));
        assert!(err("[1,2]").contains("found an array"));
        assert!(err("{not json").contains("not JSON"));
        // JSON cannot spell NaN or infinity; numbers too large for f64 do not parse.
        assert!(
            err(r#"{"type":"Polygon","coordinates":[[[1e999,0],[1,0],[1,1],[0,0]]]}"#)
                .contains("geometry")
        );
        assert!(Geometry::new(vec![vec![vec![(f64::NAN, 0.0), (1.0, 0.0), (1.0, 1.0)]]]).is_err());
    }

    #[test]
    fn too_many_points_are_refused() {
        let n = Geometry::MAX_POINTS + 10;
        let ring: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let t = i as f64 / n as f64 * std::f64::consts::TAU;
                (t.cos(), t.sin())
            })
            .collect();
        let e = Geometry::new(vec![vec![ring]]).unwrap_err().to_string();
        assert!(e.contains("more than 100000 points"), "{e}");
    }

    #[test]
    fn bbox_and_centroid() {
        let g = Geometry::new(vec![vec![square(99.0, 25.0, 0.2)]]).unwrap();
        let b = g.bbox();
        assert_eq!(
            (b.min_lon, b.min_lat, b.max_lon, b.max_lat),
            (99.0, 25.0, 99.2, 25.2)
        );
        let (x, y) = g.centroid();
        assert!(
            (x - 99.1).abs() < 1e-9 && (y - 25.1).abs() < 1e-9,
            "{x} {y}"
        );
        // A big square and a small one: the centroid leans to the big one by area.
        let g = Geometry::new(vec![
            vec![square(0.0, 0.0, 2.0)],
            vec![square(10.0, 0.0, 1.0)],
        ])
        .unwrap();
        let (x, _) = g.centroid();
        assert!((x - (4.0 * 1.0 + 1.0 * 10.5) / 5.0).abs() < 1e-9, "{x}");
        // An L shape: centroid by area, not the mean of its corners.
        let l = vec![
            (0.0, 0.0),
            (2.0, 0.0),
            (2.0, 1.0),
            (1.0, 1.0),
            (1.0, 2.0),
            (0.0, 2.0),
        ];
        let (x, y) = Geometry::new(vec![vec![l]]).unwrap().centroid();
        assert!(
            (x - 5.0 / 6.0).abs() < 1e-9 && (y - 5.0 / 6.0).abs() < 1e-9,
            "{x} {y}"
        );
    }

    #[test]
    fn bbox_relations_and_merge() {
        let a = Geometry::new(vec![vec![square(0.0, 0.0, 1.0)]]).unwrap();
        let b = Geometry::new(vec![vec![square(1.0, 0.0, 1.0)]]).unwrap();
        assert!(!a.bbox().overlaps(&b.bbox()), "touching is not overlapping");
        let m = Geometry::merge([&a, &b]).unwrap();
        assert_eq!(m.polygons.len(), 2);
        assert!(m.bbox().contains(&a.bbox()) && m.bbox().contains(&b.bbox()));
        assert_eq!(m.bbox(), a.bbox().union(b.bbox()));
        assert_eq!(Geometry::parse_geojson(&m.to_geojson()).unwrap(), m);
        assert!(Geometry::merge([]).is_none());
    }

    #[test]
    fn feature_collection_is_taken_apart_feature_by_feature() {
        let text = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"code":"A-1"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
            {"type":"Feature","properties":{"area_code":530502},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}},
            {"type":"Feature","properties":{"name":"x"},"geometry":null},
            {"type":"Feature","properties":{"code":" B "},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,95.2],[0,0]]]}},
            {"properties":{"code":"C"}},
            7
        ]}"#;
        let fs = parse_feature_collection(text).unwrap();
        assert_eq!(fs.len(), 6);
        assert_eq!(fs[0].code.as_deref(), Some("A-1"));
        assert!(fs[0].geometry.is_ok());
        assert_eq!(fs[1].code.as_deref(), Some("530502"));
        assert_eq!(fs[2].code, None);
        assert!(
            fs[2]
                .geometry
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("no geometry")
        );
        assert_eq!(fs[3].code.as_deref(), Some("B"));
        assert!(
            fs[3]
                .geometry
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("latitude 95.2")
        );
        assert!(
            fs[4]
                .geometry
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("features[4] is not a Feature")
        );
        assert_eq!((fs[5].index, fs[5].code.as_ref()), (5, None));
        let e = parse_feature_collection(r#"{"type":"Polygon","coordinates":[]}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("`Polygon`, expected a FeatureCollection"),
            "{e}"
        );
        let e = parse_feature_collection("<kml/>").unwrap_err();
        assert!(e.to_string().contains("not JSON"), "{e}");
        let e = parse_feature_collection(r#"{"type":"FeatureCollection"}"#).unwrap_err();
        assert!(e.to_string().contains("no \"features\""), "{e}");
        // A byte-order mark, as some Windows tools write, is not an error.
        assert_eq!(
            parse_feature_collection("\u{feff}{\"type\":\"FeatureCollection\",\"features\":[]}")
                .unwrap(),
            vec![]
        );
    }
}
