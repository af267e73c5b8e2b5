-- The five best sellers of each category (seed 001, "top products per category").
-- Corrected: the seed filtered on the window's alias (`WHERE rank <= 5`) in the SELECT
-- that defines it, which no SQL engine allows; the ranking is now a subquery. `rank` is
-- also a function name, so the column is `sales_rank`.
WITH book_sales AS (
    SELECT t.category, t.book_id, t.title,
           SUM(t.quantity) AS total_sold,
           SUM(t.subtotal) AS total_revenue
    FROM purchases p
    CROSS JOIN UNNEST(p.items) AS t(book_id, title, category, author, quantity, unit_price, subtotal)
    WHERE p.year = '2026'
    GROUP BY t.category, t.book_id, t.title
),
ranked AS (
    SELECT category, title, total_sold, total_revenue,
           ROW_NUMBER() OVER (PARTITION BY category ORDER BY total_sold DESC, book_id) AS sales_rank
    FROM book_sales
)
SELECT category, sales_rank, title, total_sold, total_revenue
FROM ranked
WHERE sales_rank <= 5
ORDER BY category, sales_rank;
