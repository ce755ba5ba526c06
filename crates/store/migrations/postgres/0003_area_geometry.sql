-- minyi schema 3 (PostgreSQL): area boundaries for the map. `geometry` holds a GeoJSON
-- geometry object (Polygon or MultiPolygon, lon/lat WGS-84), checked by minyi-core before
-- it is stored; NULL means no boundary yet. TEXT, not PostGIS or JSONB: the map only reads
-- it back whole, and both dialects keep the same column. Keep in step with
-- sqlite/0003_area_geometry.sql.
ALTER TABLE areas ADD COLUMN geometry TEXT;
