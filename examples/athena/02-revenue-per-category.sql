-- Revenue per category in a year (seed 000, query 2).
-- Corrected: the seed joined books on a purchase's book_id, which a purchase does not
-- have; each line of `items` carries its book's category at the time of sale.
SELECT t.category, SUM(t.subtotal) AS revenue, SUM(t.quantity) AS copies_sold
FROM purchases p
CROSS JOIN UNNEST(p.items) AS t(book_id, title, category, author, quantity, unit_price, subtotal)
WHERE p.year = '2026'
GROUP BY t.category
ORDER BY revenue DESC, t.category;
