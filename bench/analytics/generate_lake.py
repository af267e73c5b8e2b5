"""Writes a synthetic lake in the layout the change feeds write: 3 tenants, 2 years,
newline-delimited JSON per day, purchases shaped as the runtime serializes them.
Usage: generate_lake.py ROOT TOTAL_PURCHASES   (deterministic: seeded)"""
import datetime
import json
import os
import random
import sys
import uuid

CATEGORIES = ["Ficción", "Historia", "Ciencia", "Programación", "Misterio", "Fantasía", "Biografía", "Poesía"]
TENANTS = ["libreria-sol", "book-haven", "papiro"]


def main() -> None:
    root, total = sys.argv[1], int(sys.argv[2])
    rng = random.Random(42)
    start = datetime.datetime(2024, 11, 1, tzinfo=datetime.timezone.utc)
    days = 730
    books = [
        {"book_id": str(uuid.UUID(int=rng.getrandbits(128))), "title": f"Libro {n}", "category": rng.choice(CATEGORIES),
         "author": f"Autor {n % 300}", "price": rng.randint(500, 4500)}
        for n in range(2000)
    ]
    per_day = total // (len(TENANTS) * days)
    written = 0
    for tenant in TENANTS:
        users = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(5000)]
        for day in range(days):
            date = start + datetime.timedelta(days=day)
            folder = os.path.join(root, tenant, "purchases", f"year={date.year:04}", f"month={date.month:02}",
                                  f"day={date.day:02}")
            os.makedirs(folder, exist_ok=True)
            lines = []
            for n in range(per_day):
                at = date + datetime.timedelta(seconds=rng.randint(0, 86399))
                items = []
                for book in rng.sample(books, rng.randint(1, 4)):
                    quantity = rng.randint(1, 3)
                    items.append({"book_id": book["book_id"], "title": book["title"], "category": book["category"],
                                  "author": book["author"], "quantity": quantity,
                                  "unit_price": f"{book['price'] / 100:.2f}",
                                  "subtotal": f"{book['price'] * quantity / 100:.2f}"})
                subtotal = sum(int(round(float(i["subtotal"]) * 100)) for i in items)
                tax = subtotal * 4 // 100
                stamp = at.isoformat().replace("+00:00", "Z")
                lines.append(json.dumps({
                    "purchase_id": str(uuid.UUID(int=rng.getrandbits(128))), "tenant_id": tenant,
                    "user_id": rng.choice(users), "items": items, "subtotal": f"{subtotal / 100:.2f}",
                    "tax": f"{tax / 100:.2f}", "total_amount": f"{(subtotal + tax) / 100:.2f}",
                    "status": "PENDING", "payment_method": "card", "shipping_address": None, "version": 1,
                    "created_at": stamp, "updated_at": stamp}, ensure_ascii=False))
            # Batches of up to 100 purchases, as the feeds write them.
            for first in range(0, len(lines), 100):
                with open(os.path.join(folder, f"batch-{first:05}.json"), "w") as out:
                    out.write("\n".join(lines[first:first + 100]) + "\n")
            written += len(lines)
    print(written)


if __name__ == "__main__":
    main()
