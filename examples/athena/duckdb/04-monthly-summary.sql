-- DuckDB's spelling of ../04-monthly-summary.sql, the oracle the tests compare the embedded engine with:
-- UNNEST of an array of rows as a LATERAL unnest(…, max_depth := 2), date_diff as date_sub.
SELECT tenant_id, year, month,
       COUNT(*) AS total_purchases,
       SUM(total_amount) AS total_revenue,
       AVG(total_amount) AS avg_order_value
FROM purchases
WHERE year = '2026'
GROUP BY tenant_id, year, month
ORDER BY year, month;
