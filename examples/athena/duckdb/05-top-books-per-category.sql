-- DuckDB's spelling of ../05-top-books-per-category.sql, the oracle the tests compare the embedded engine with:
-- UNNEST of an array of rows as a LATERAL unnest(…, max_depth := 2), date_diff as date_sub.
WITH book_sales AS (
    SELECT t.category, t.book_id, t.title,
           SUM(t.quantity) AS total_sold,
           SUM(t.subtotal) AS total_revenue
    FROM purchases p
    , LATERAL (SELECT unnest(p.items, max_depth := 2)) AS t
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
