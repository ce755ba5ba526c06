//! Schematic map cells for the synthetic city: every village a small square, the
//! villages of a township packed into a block, the townships of a county shelved together,
//! and the counties set out west to east in roughly their real places within Baoshan's
//! extent — the kind of schematic a bureau pins up when it has no survey boundaries.
//!
//! The cells are invented and say so by being squares; they are not boundaries and must
//! never be mistaken for, or mixed with, real imported geometry. Deterministic: the same
//! city gives the same cells. Pure: no IO.

use std::collections::HashMap;

use minyi_core::Code;
use minyi_core::geo::{BBox, Geometry};
use minyi_core::org::{AreaKind, NewArea};

use crate::City;

/// Where the schematic is drawn: Baoshan's rough extent in degrees.
pub const BOUNDS: BBox = BBox {
    min_lon: 98.9,
    min_lat: 24.2,
    max_lon: 99.9,
    max_lat: 25.6,
};

/// Layout units (one unit = one village's slot) between neighbouring blocks.
const TOWNSHIP_GAP: f64 = 0.6;
const COUNTY_GAP: f64 = 2.5;
/// Share of its slot a village's square fills; the rest is the white line between cells.
const FILL: f64 = 0.88;
/// Counties whose real centres lie within this many degrees of longitude of a column's
/// westernmost county share that column (Tengchong over Longling, Longyang over Shidian).
const COLUMN_SPAN_DEG: f64 = 0.25;
/// Degrees kept free inside `BOUNDS`.
const MARGIN: f64 = 0.03;

/// A rectangle in layout units, y growing downwards (rows of the schematic).
#[derive(Clone, Copy)]
struct Slot {
    x: f64,
    y: f64,
}

/// A township's block: its villages' slots relative to the block, and its size.
struct Block {
    villages: Vec<(usize, Slot)>,
    w: f64,
    h: f64,
}

/// Schematic geometry for every county, township and village of the city, in the order
/// of `city.areas`. Townships and counties are the MultiPolygon of their villages'
/// squares; a township without villages gets one square of its own. Areas of other
/// kinds (grid cells) get none.
pub fn schematic_cells(city: &City) -> Vec<(Code, Geometry)> {
    let areas = &city.areas;
    let index: HashMap<&str, usize> = areas
        .iter()
        .enumerate()
        .map(|(i, a)| (a.code.as_str(), i))
        .collect();
    let children = |parent: usize, kind: AreaKind| -> Vec<usize> {
        areas
            .iter()
            .enumerate()
            .filter(|(_, a)| {
                a.kind == kind
                    && a.parent.as_ref().and_then(|p| index.get(p.as_str())) == Some(&parent)
            })
            .map(|(i, _)| i)
            .collect()
    };

    // Each county: its township blocks shelved into a rectangle (slots relative to it).
    struct CountyLayout {
        county: usize,
        blocks: Vec<(Block, Slot)>,
        w: f64,
        h: f64,
    }
    let mut counties: Vec<CountyLayout> = Vec::new();
    for (ci, _) in areas
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind == AreaKind::County)
    {
        let blocks: Vec<Block> = children(ci, AreaKind::Township)
            .into_iter()
            .map(|ti| township_block(ti, &children(ti, AreaKind::Village)))
            .collect();
        let (placed, w, h) = shelve(blocks);
        counties.push(CountyLayout {
            county: ci,
            blocks: placed,
            w,
            h,
        });
    }

    // Counties into columns by real longitude, north first within a column.
    let centre = |a: &NewArea| a.centre.map(|c| (c.lon, c.lat)).unwrap_or((0.0, 0.0));
    counties.sort_by(|a, b| {
        centre(&areas[a.county])
            .0
            .total_cmp(&centre(&areas[b.county]).0)
    });
    let mut columns: Vec<Vec<CountyLayout>> = Vec::new();
    for c in counties {
        let lon = centre(&areas[c.county]).0;
        match columns.last_mut() {
            Some(col) if lon - centre(&areas[col[0].county]).0 <= COLUMN_SPAN_DEG => col.push(c),
            _ => columns.push(vec![c]),
        }
    }
    for col in &mut columns {
        col.sort_by(|a, b| {
            centre(&areas[b.county])
                .1
                .total_cmp(&centre(&areas[a.county]).1)
        });
    }
    let col_w: Vec<f64> = columns
        .iter()
        .map(|col| col.iter().map(|c| c.w).fold(0.0, f64::max))
        .collect();
    let col_h: Vec<f64> = columns
        .iter()
        .map(|col| col.iter().map(|c| c.h).sum::<f64>() + COUNTY_GAP * (col.len() as f64 - 1.0))
        .collect();
    let total_w = col_w.iter().sum::<f64>() + COUNTY_GAP * (columns.len() as f64 - 1.0).max(0.0);
    let total_h = col_h.iter().copied().fold(0.0, f64::max);

    // Village slots in whole-map layout units.
    let mut village_slots: Vec<(usize, Slot)> = Vec::new();
    let mut x0 = 0.0;
    for (k, col) in columns.iter().enumerate() {
        let mut y0 = (total_h - col_h[k]) / 2.0;
        for c in col {
            let cx = x0 + (col_w[k] - c.w) / 2.0;
            for (block, at) in &c.blocks {
                for (vi, s) in &block.villages {
                    village_slots.push((
                        *vi,
                        Slot {
                            x: cx + at.x + s.x,
                            y: y0 + at.y + s.y,
                        },
                    ));
                }
            }
            y0 += c.h + COUNTY_GAP;
        }
        x0 += col_w[k] + COUNTY_GAP;
    }

    // Layout units to degrees: square cells, the whole centred in BOUNDS.
    let (avail_w, avail_h) = (
        BOUNDS.width() - 2.0 * MARGIN,
        BOUNDS.height() - 2.0 * MARGIN,
    );
    let scale = if total_w > 0.0 && total_h > 0.0 {
        (avail_w / total_w).min(avail_h / total_h)
    } else {
        0.01
    };
    let left = BOUNDS.min_lon + (BOUNDS.width() - total_w * scale) / 2.0;
    let top = BOUNDS.max_lat - (BOUNDS.height() - total_h * scale) / 2.0;
    let mut shapes: HashMap<usize, Geometry> = HashMap::new();
    for (i, s) in village_slots {
        let inset = (1.0 - FILL) / 2.0;
        let (lon0, lat1) = (left + (s.x + inset) * scale, top - (s.y + inset) * scale);
        let (lon1, lat0) = (lon0 + FILL * scale, lat1 - FILL * scale);
        if let Some(g) = square(lon0, lat0, lon1, lat1) {
            shapes.insert(i, g);
        }
    }
    // Townships, then counties, as the union of what lies below them.
    for kind in [AreaKind::Township, AreaKind::County] {
        let below = match kind {
            AreaKind::Township => AreaKind::Village,
            _ => AreaKind::Township,
        };
        for (i, _) in areas.iter().enumerate().filter(|(_, a)| a.kind == kind) {
            let parts: Vec<&Geometry> = children(i, below)
                .iter()
                .filter_map(|c| shapes.get(c))
                .collect();
            if let Some(g) = Geometry::merge(parts) {
                shapes.insert(i, g);
            }
        }
    }
    areas
        .iter()
        .enumerate()
        .filter_map(|(i, a)| shapes.remove(&i).map(|g| (a.code.clone(), g)))
        .collect()
}

/// Villages in a near-square grid, filled row by row from the top left. A township
/// without villages still takes one slot, drawn as its own square.
fn township_block(township: usize, villages: &[usize]) -> Block {
    let slots: Vec<usize> = if villages.is_empty() {
        vec![township]
    } else {
        villages.to_vec()
    };
    let n = slots.len();
    let cols = (n as f64).sqrt().ceil().max(1.0) as usize;
    let rows = n.div_ceil(cols);
    Block {
        villages: slots
            .into_iter()
            .enumerate()
            .map(|(k, v)| {
                (
                    v,
                    Slot {
                        x: (k % cols) as f64,
                        y: (k / cols) as f64,
                    },
                )
            })
            .collect(),
        w: cols as f64,
        h: rows as f64,
    }
}

/// Shelf packing: blocks left to right until a shelf is as wide as a somewhat upright
/// rectangle of the same area would be, then a new shelf below. Returns each block with
/// its offset, and the packed width and height.
fn shelve(blocks: Vec<Block>) -> (Vec<(Block, Slot)>, f64, f64) {
    let area: f64 = blocks
        .iter()
        .map(|b| (b.w + TOWNSHIP_GAP) * (b.h + TOWNSHIP_GAP))
        .sum();
    let widest = blocks.iter().map(|b| b.w).fold(0.0, f64::max);
    let target = (area.sqrt() * 0.85).max(widest);
    let (mut x, mut y, mut shelf_h, mut w) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut out = Vec::with_capacity(blocks.len());
    for b in blocks {
        if x > 0.0 && x + b.w > target {
            y += shelf_h + TOWNSHIP_GAP;
            x = 0.0;
            shelf_h = 0.0;
        }
        w = w.max(x + b.w);
        shelf_h = shelf_h.max(b.h);
        let bw = b.w;
        out.push((b, Slot { x, y }));
        x += bw + TOWNSHIP_GAP;
    }
    (out, w, y + shelf_h)
}

/// A square (or any axis-aligned box), rounded to a millionth of a degree — about 10 cm,
/// far finer than a schematic needs, and it keeps the stored text short.
fn square(lon0: f64, lat0: f64, lon1: f64, lat1: f64) -> Option<Geometry> {
    let r = |v: f64| (v * 1e6).round() / 1e6;
    let (lon0, lat0, lon1, lat1) = (r(lon0), r(lat0), r(lon1), r(lat1));
    Geometry::new(vec![vec![vec![
        (lon0, lat0),
        (lon1, lat0),
        (lon1, lat1),
        (lon0, lat1),
        (lon0, lat0),
    ]]])
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn city() -> City {
        crate::city::build(&mut ChaCha8Rng::seed_from_u64(7))
    }

    #[test]
    fn every_area_gets_a_geometry_inside_the_bounds() {
        let city = city();
        let cells = schematic_cells(&city);
        assert_eq!(cells.len(), city.areas.len());
        for (a, (code, g)) in city.areas.iter().zip(&cells) {
            assert_eq!(&a.code, code, "same order as city.areas");
            assert!(BOUNDS.contains(&g.bbox()), "{code} outside the bounds");
            // What is stored is what the parser accepts.
            assert_eq!(Geometry::parse_geojson(&g.to_geojson()).as_ref(), Ok(g));
            let expected_polygons = match a.kind {
                AreaKind::Village => 1,
                AreaKind::Township => city
                    .areas
                    .iter()
                    .filter(|v| v.parent.as_ref() == Some(&a.code))
                    .count(),
                _ => g.polygons.len(),
            };
            assert_eq!(g.polygons.len(), expected_polygons, "{code}");
        }
        // The drawing uses the space: neither a speck nor a strip.
        let all = cells
            .iter()
            .map(|(_, g)| g.bbox())
            .reduce(BBox::union)
            .unwrap();
        assert!(all.width() > 0.5 * BOUNDS.width(), "{all:?}");
        assert!(all.height() > 0.3 * BOUNDS.height(), "{all:?}");
    }

    #[test]
    fn cells_do_not_overlap() {
        let city = city();
        let cells = schematic_cells(&city);
        let boxes = |kind: AreaKind| -> Vec<(&Code, BBox)> {
            city.areas
                .iter()
                .zip(&cells)
                .filter(|(a, _)| a.kind == kind)
                .map(|(_, (c, g))| (c, g.bbox()))
                .collect()
        };
        // Every pair of villages in the whole city (871² / 2 checks is quick).
        let villages = boxes(AreaKind::Village);
        for (i, (ca, a)) in villages.iter().enumerate() {
            for (cb, b) in &villages[i + 1..] {
                assert!(!a.overlaps(b), "{ca} overlaps {cb}");
            }
        }
        // Township and county blocks are apart too, so a township reads as one patch.
        for kind in [AreaKind::Township, AreaKind::County] {
            let bs = boxes(kind);
            for (i, (ca, a)) in bs.iter().enumerate() {
                for (cb, b) in &bs[i + 1..] {
                    assert!(!a.overlaps(b), "{ca} overlaps {cb}");
                }
            }
        }
    }

    #[test]
    fn counties_sit_west_to_east_as_in_life() {
        let city = city();
        let cells: HashMap<String, Geometry> = schematic_cells(&city)
            .into_iter()
            .map(|(c, g)| (c.to_string(), g))
            .collect();
        let c = |k: &str| cells[&format!("A-{k}")].centroid();
        // Tengchong west of Longyang west of Changning; Longyang north of Shidian.
        assert!(c("TC").0 < c("LY").0 && c("LY").0 < c("CN").0);
        assert!(c("LY").1 > c("SD").1 && c("TC").1 > c("LL").1);
    }

    #[test]
    fn deterministic() {
        let a = schematic_cells(&city());
        let b = schematic_cells(&city());
        assert_eq!(a, b);
    }
}
