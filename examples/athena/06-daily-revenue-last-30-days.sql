-- Revenue per day over the last 30 days of data.
SELECT CAST(date_trunc('day', from_iso8601_timestamp(created_at)) AS DATE) AS day,
       COUNT(*) AS purchases,
       SUM(total_amount) AS revenue
FROM purchases
WHERE from_iso8601_timestamp(created_at) >=
      date_add('day', -30, (SELECT MAX(from_iso8601_timestamp(created_at)) FROM purchases))
GROUP BY 1
ORDER BY 1;
