-- Buyers, repeat buyers and the days between a customer's first and last purchase.
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
       SUM(date_diff('day', first_at, last_at)) AS total_days_first_to_last,
       MAX(date_diff('month', first_at, last_at)) AS longest_months
FROM per_customer;
