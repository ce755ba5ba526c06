//! Pages of the analysis workspaces (county and city).
