-- DuckDB's spelling of ../03-customer-behaviour.sql, the oracle the tests compare the embedded engine with:
-- UNNEST of an array of rows as a LATERAL unnest(…, max_depth := 2), date_diff as date_sub.
SELECT user_id,
       COUNT(*) AS purchase_count,
       AVG(total_amount) AS avg_order,
       SUM(total_amount) AS spent,
       CAST(MIN(from_iso8601_timestamp(created_at)) AS DATE) AS first_purchase,
       CAST(MAX(from_iso8601_timestamp(created_at)) AS DATE) AS last_purchase
FROM purchases
WHERE year = '2026'
GROUP BY user_id
ORDER BY spent DESC, user_id
LIMIT 20;
