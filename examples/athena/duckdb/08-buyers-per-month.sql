-- DuckDB's spelling of ../08-buyers-per-month.sql, the oracle the tests compare the embedded engine with:
-- UNNEST of an array of rows as a LATERAL unnest(…, max_depth := 2), date_diff as date_sub.
SELECT year, month, approx_distinct(user_id) AS approx_buyers, COUNT(*) AS purchases
FROM purchases
GROUP BY year, month
ORDER BY year, month;
