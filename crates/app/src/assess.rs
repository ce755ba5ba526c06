//! Assessment runs: gathers every unit's indicator values, scores them with `minyi-assess`, stores the run and its appeals.
