-- DuckDB's spelling of ../02-revenue-per-category.sql, the oracle the tests compare the embedded engine with:
-- UNNEST of an array of rows as a LATERAL unnest(…, max_depth := 2), date_diff as date_sub.
SELECT t.category, SUM(t.subtotal) AS revenue, SUM(t.quantity) AS copies_sold
FROM purchases p
, LATERAL (SELECT unnest(p.items, max_depth := 2)) AS t
WHERE p.year = '2026'
GROUP BY t.category
ORDER BY revenue DESC, t.category;
