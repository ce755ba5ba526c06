-- minyi schema 3 (SQLite): area boundaries for the map. `geometry` holds a GeoJSON
-- geometry object (Polygon or MultiPolygon, lon/lat WGS-84), checked by minyi-core before
-- it is stored; NULL means no boundary yet. Keep in step with postgres/0003_area_geometry.sql.
ALTER TABLE areas ADD COLUMN geometry TEXT;
