-- Purchases, revenue and average order per month (seed 001, "query with partitions").
-- The partition columns are strings on Athena: compare them with '2026', not 2026.
SELECT tenant_id, year, month,
       COUNT(*) AS total_purchases,
       SUM(total_amount) AS total_revenue,
       AVG(total_amount) AS avg_order_value
FROM purchases
WHERE year = '2026'
GROUP BY tenant_id, year, month
ORDER BY year, month;
