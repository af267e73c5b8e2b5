-- DuckDB's spelling of ../06-daily-revenue-last-30-days.sql, the oracle the tests compare the embedded engine with:
-- UNNEST of an array of rows as a LATERAL unnest(…, max_depth := 2), date_diff as date_sub.
SELECT CAST(date_trunc('day', from_iso8601_timestamp(created_at)) AS DATE) AS day,
       COUNT(*) AS purchases,
       SUM(total_amount) AS revenue
FROM purchases
WHERE from_iso8601_timestamp(created_at) >=
      date_add('day', -30, (SELECT MAX(from_iso8601_timestamp(created_at)) FROM purchases))
GROUP BY 1
ORDER BY 1;
