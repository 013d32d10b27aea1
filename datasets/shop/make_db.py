#!/usr/bin/env python3
"""Builds shop.db, a small synthetic store database, and the question/answer sets over it.

Everything is generated here from a fixed seed (no outside data): run
`python3 datasets/shop/make_db.py` from the repository root to rebuild the same files.
Gold answers are computed by SQL against the database this script writes.
"""

import json
import os
import random
import sqlite3

HERE = os.path.dirname(os.path.abspath(__file__))
DB = os.path.join(HERE, "shop.db")

CITIES = ["Lisbon", "Porto", "Madrid", "Lyon", "Turin"]
FIRST = ["Ana", "Bruno", "Carla", "Diego", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas",
         "Karin", "Luis", "Marta", "Nuno", "Olga", "Pedro", "Rosa", "Sofia", "Tomas", "Vera"]
LAST = ["Silva", "Costa", "Moreau", "Rossi", "Garcia", "Weber", "Lopes", "Bianchi", "Ferreira", "Dubois"]
PRODUCTS = [  # name, category, price (whole euros)
    ("Trail Backpack", "outdoor", 85), ("Camping Stove", "outdoor", 60), ("Sleeping Bag", "outdoor", 120),
    ("Headlamp", "outdoor", 25), ("Water Filter", "outdoor", 45),
    ("Espresso Maker", "kitchen", 150), ("Chef Knife", "kitchen", 70), ("Cast Iron Pan", "kitchen", 55),
    ("Tea Kettle", "kitchen", 35),
    ("Wireless Mouse", "electronics", 30), ("Mechanical Keyboard", "electronics", 110),
    ("USB Charger", "electronics", 20), ("Noise Cancelling Headphones", "electronics", 240),
    ("Desk Lamp", "home", 40), ("Wool Blanket", "home", 65),
]


def build(rng):
    if os.path.exists(DB):
        os.remove(DB)
    con = sqlite3.connect(DB)
    con.executescript(
        """
        CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT NOT NULL, joined_year INTEGER NOT NULL);
        CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT NOT NULL, price INTEGER NOT NULL);
        CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), order_date TEXT NOT NULL);
        CREATE TABLE order_items (order_id INTEGER NOT NULL REFERENCES orders(id), product_id INTEGER NOT NULL REFERENCES products(id), quantity INTEGER NOT NULL);
        """
    )
    names = rng.sample([f"{f} {l}" for f in FIRST for l in LAST], 20)
    for i, name in enumerate(names, 1):
        con.execute("INSERT INTO customers VALUES (?, ?, ?, ?)", (i, name, rng.choice(CITIES), rng.randint(2018, 2024)))
    for i, (name, category, price) in enumerate(PRODUCTS, 1):
        con.execute("INSERT INTO products VALUES (?, ?, ?, ?)", (i, name, category, price))
    for order in range(1, 61):
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        con.execute("INSERT INTO orders VALUES (?, ?, ?)", (order, rng.randint(1, 20), f"2024-{month:02d}-{day:02d}"))
        for product in rng.sample(range(1, len(PRODUCTS) + 1), rng.randint(1, 3)):
            con.execute("INSERT INTO order_items VALUES (?, ?, ?)", (order, product, rng.randint(1, 4)))
    con.commit()
    con.execute("VACUUM")
    return con


def one(con, sql, *args):
    return con.execute(sql, args).fetchone()[0]


def questions(con, rng):
    """(question, answer) pairs; every answer is a whole number or a name, from SQL."""
    qa = []
    customers = [r[0] for r in con.execute("SELECT name FROM customers ORDER BY id")]
    products = [r[0] for r in con.execute("SELECT name FROM products ORDER BY id")]
    categories = ["outdoor", "kitchen", "electronics", "home"]
    for city in CITIES:
        qa.append((f"How many customers live in {city}?", one(con, "SELECT count(*) FROM customers WHERE city = ?", city)))
    for name in rng.sample(customers, 8):
        qa.append((f"How many orders did {name} place?",
                   one(con, "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.name = ?", name)))
    for name in rng.sample(products, 8):
        qa.append((f"How many units of the {name} were sold in total?",
                   one(con, "SELECT coalesce(sum(quantity), 0) FROM order_items i JOIN products p ON p.id = i.product_id WHERE p.name = ?", name)))
    for category in categories:
        qa.append((f"What is the total revenue in euros from {category} products?",
                   one(con, "SELECT coalesce(sum(i.quantity * p.price), 0) FROM order_items i JOIN products p ON p.id = i.product_id WHERE p.category = ?", category)))
        qa.append((f"What is the most expensive {category} product?",
                   one(con, "SELECT name FROM products WHERE category = ? ORDER BY price DESC, id LIMIT 1", category)))
    for month, label in [(3, "March"), (7, "July"), (11, "November")]:
        qa.append((f"How many orders were placed in {label} 2024?",
                   one(con, "SELECT count(*) FROM orders WHERE substr(order_date, 6, 2) = ?", f"{month:02d}")))
    qa.append(("Which customer placed the most orders?",
               one(con, "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.id ORDER BY count(*) DESC, c.id LIMIT 1")))
    qa.append(("Which city has the most customers?",
               one(con, "SELECT city FROM customers GROUP BY city ORDER BY count(*) DESC, city LIMIT 1")))
    qa.append(("Which product sold the most units?",
               one(con, "SELECT p.name FROM products p JOIN order_items i ON i.product_id = p.id GROUP BY p.id ORDER BY sum(i.quantity) DESC, p.id LIMIT 1")))
    qa.append(("How many customers joined in 2020 or later?", one(con, "SELECT count(*) FROM customers WHERE joined_year >= 2020")))
    qa.append(("What is the total revenue in euros of all orders?",
               one(con, "SELECT sum(i.quantity * p.price) FROM order_items i JOIN products p ON p.id = i.product_id")))
    qa.append(("How many customers never placed an order?",
               one(con, "SELECT count(*) FROM customers WHERE id NOT IN (SELECT customer_id FROM orders)")))
    return [{"question": q, "answer": str(a)} for q, a in qa]


def main():
    rng = random.Random(7)
    con = build(rng)
    rows = questions(con, rng)
    con.close()
    rng.shuffle(rows)
    splits = {"train": rows[:16], "dev": rows[16:24], "test": rows[24:]}
    for split, items in splits.items():
        with open(os.path.join(HERE, f"{split}.jsonl"), "w") as f:
            for item in items:
                f.write(json.dumps(item) + "\n")
    print({k: len(v) for k, v in splits.items()}, os.path.getsize(DB), "bytes")


if __name__ == "__main__":
    main()
