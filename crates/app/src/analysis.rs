//! The analysis workspaces: the county first analysis (confirm, relabel, merge, escalate) and the city thematic workspace.
