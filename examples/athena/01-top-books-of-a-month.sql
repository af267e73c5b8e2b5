-- Top 10 books of a month by copies sold (seed 000, query 1).
-- Corrected: a purchase holds its books in `items` (an array of rows), so book_id and
-- title come from UNNEST, not from the purchase. On Athena, UNNEST of an array of rows
-- yields one column per field, hence the column list.
SELECT t.book_id, t.title, SUM(t.quantity) AS copies_sold, COUNT(*) AS order_lines
FROM purchases p
CROSS JOIN UNNEST(p.items) AS t(book_id, title, category, author, quantity, unit_price, subtotal)
WHERE p.year = '2026' AND p.month = '03'
GROUP BY t.book_id, t.title
ORDER BY copies_sold DESC, t.book_id
LIMIT 10;
