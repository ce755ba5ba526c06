//! Contact cards and boards (联系卡、公示牌) for every station and community.
