//! Callbacks (回访) and case-progress notices (回告): planning, worklist, outcomes.
