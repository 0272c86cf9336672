SELECT * FROM projects ORDER BY name
