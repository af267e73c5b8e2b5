-- DuckDB's spelling of ../07-repeat-buyers.sql, the oracle the tests compare the embedded engine with:
-- UNNEST of an array of rows as a LATERAL unnest(…, max_depth := 2), date_diff as date_sub.
WITH per_customer AS (
    SELECT user_id,
           COUNT(*) AS orders,
           MIN(from_iso8601_timestamp(created_at)) AS first_at,
           MAX(from_iso8601_timestamp(created_at)) AS last_at
    FROM purchases
    GROUP BY user_id
)
SELECT COUNT(*) AS buyers,
       SUM(CASE WHEN orders > 1 THEN 1 ELSE 0 END) AS repeat_buyers,
       SUM(date_sub('day', first_at, last_at)) AS total_days_first_to_last,
       MAX(date_sub('month', first_at, last_at)) AS longest_months
FROM per_customer;
