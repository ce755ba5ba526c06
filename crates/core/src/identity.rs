//! Residents' identity fields, parsed at the edge.
