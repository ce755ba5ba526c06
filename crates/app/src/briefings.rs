//! Briefings (研判报告): drafted per county and for the city per period, edited, published, printed and exported.
