//! The overview: the unit tree with live counts, for the home page and `units list`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use minyi_core::org::UnitKind;
use minyi_store::{Counts, UnitRow};

use crate::{App, Result};

/// One unit in the tree, with the opinion counts of its whole subtree.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnitNode {
    pub unit: UnitRow,
    pub depth: usize,
    pub opinions: i64,
    pub open: i64,
    pub overdue: i64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Overview {
    pub counts: Counts,
    /// Depth-first, children in code order; linked departments after the police tree.
    pub tree: Vec<UnitNode>,
    pub synthetic: bool,
    pub generated_at: DateTime<Utc>,
}

pub async fn overview(app: &App, now: DateTime<Utc>, max_depth: usize) -> Result<Overview> {
    let counts = app.store.counts().await?;
    let units = app.store.units().await?;
    let activity: HashMap<i64, (i64, i64, i64)> = app
        .store
        .unit_activity(now)
        .await?
        .into_iter()
        .map(|a| (a.unit_id, (a.opinions, a.open, a.overdue)))
        .collect();
    let mut children: HashMap<Option<i64>, Vec<&UnitRow>> = HashMap::new();
    for u in &units {
        children.entry(u.parent_id).or_default().push(u);
    }
    for list in children.values_mut() {
        // Police units first, departments after, each in code order.
        list.sort_by_key(|u| (u.kind == UnitKind::Department, u.code.clone()));
    }
    let mut tree = Vec::new();
    fn walk(
        unit: &UnitRow,
        depth: usize,
        children: &HashMap<Option<i64>, Vec<&UnitRow>>,
        activity: &HashMap<i64, (i64, i64, i64)>,
        out: &mut Vec<UnitNode>,
    ) -> (i64, i64, i64) {
        let index = out.len();
        out.push(UnitNode {
            unit: unit.clone(),
            depth,
            opinions: 0,
            open: 0,
            overdue: 0,
        });
        let mut sum = activity.get(&unit.id).copied().unwrap_or_default();
        for child in children
            .get(&Some(unit.id))
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let c = walk(child, depth + 1, children, activity, out);
            sum = (sum.0 + c.0, sum.1 + c.1, sum.2 + c.2);
        }
        let node = &mut out[index];
        (node.opinions, node.open, node.overdue) = sum;
        sum
    }
    for root in children.get(&None).map(Vec::as_slice).unwrap_or_default() {
        walk(root, 0, &children, &activity, &mut tree);
    }
    tree.retain(|n| n.depth <= max_depth);
    let synthetic = counts.synthetic_units > 0;
    Ok(Overview {
        counts,
        tree,
        synthetic,
        generated_at: now,
    })
}
