-- Distinct buyers per month (approximate, as Athena's dashboards count them).
SELECT year, month, approx_distinct(user_id) AS approx_buyers, COUNT(*) AS purchases
FROM purchases
GROUP BY year, month
ORDER BY year, month;
