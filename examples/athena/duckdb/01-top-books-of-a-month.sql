-- DuckDB's spelling of ../01-top-books-of-a-month.sql, the oracle the tests compare the embedded engine with:
-- UNNEST of an array of rows as a LATERAL unnest(…, max_depth := 2), date_diff as date_sub.
SELECT t.book_id, t.title, SUM(t.quantity) AS copies_sold, COUNT(*) AS order_lines
FROM purchases p
, LATERAL (SELECT unnest(p.items, max_depth := 2)) AS t
WHERE p.year = '2026' AND p.month = '03'
GROUP BY t.book_id, t.title
ORDER BY copies_sold DESC, t.book_id
LIMIT 10;
