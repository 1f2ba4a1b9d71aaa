#!/usr/bin/env python3
"""Generates the synthetic CSVs the scenario examples read.

Every value is drawn from Python's `random` with a fixed seed, so running this
again reproduces the files byte for byte. The data is invented: no real
person, account or institution is described. License: Apache-2.0, like tessera.
"""
import math
import random
from pathlib import Path

HERE = Path(__file__).parent


def write(name, header, rows):
    with open(HERE / name, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")


def transactions():
    rng = random.Random(11)
    accounts = list(range(1001, 1041))
    write("accounts.csv", ["account"], [[a] for a in accounts])
    for bank, count in (("bank_a", 60), ("bank_b", 45), ("bank_c", 50)):
        rows = []
        for _ in range(count):
            acct = rng.choice(accounts)
            # Mostly small payments, a few large transfers, some outflows.
            amount = round(rng.lognormvariate(6.5, 1.2), 2)
            if rng.random() < 0.25:
                amount = -amount
            rows.append([acct, amount])
        write(f"{bank}_transactions.csv", ["account", "amount"], rows)


def solvency():
    rng = random.Random(23)
    custodians = {
        "exchange_books": [("customer_deposits", "liability", 48_000_000.00),
                           ("loans_payable", "liability", 6_500_000.00),
                           ("accrued_expenses", "liability", 410_250.75),
                           ("operating_cash", "asset", 2_250_000.00)],
        "custodian_1": [],
        "custodian_2": [],
    }
    for name in ("custodian_1", "custodian_2"):
        for i in range(12):
            custodians[name].append((f"wallet_{name[-1]}_{i:02}", "asset",
                                     round(rng.uniform(1.5e6, 3.5e6), 2)))
    for name, items in custodians.items():
        write(f"solvency_{name}.csv", ["item", "kind", "amount"], items)


def hospitals():
    rng = random.Random(37)
    for name, count, mean in (("hospital_a", 220, 128.0), ("hospital_b", 340, 134.0),
                              ("hospital_c", 150, 124.0)):
        rows = []
        for _ in range(count):
            age = min(95, max(18, int(rng.gauss(58, 15))))
            bp = round(min(220.0, max(80.0, rng.gauss(mean + 0.3 * (age - 58), 16))), 1)
            chol = round(min(400.0, max(100.0, rng.gauss(205, 38))), 1)
            rows.append([age, bp, chol])
        write(f"{name}_patients.csv", ["age", "systolic_bp", "cholesterol"], rows)


def credit():
    rng = random.Random(53)

    def applicant():
        age = rng.randint(21, 75)
        income = round(max(12.0, rng.lognormvariate(3.9, 0.45)), 1)  # thousands per year
        debt_ratio = round(min(1.5, max(0.0, rng.gauss(0.35, 0.18))), 3)
        credit_lines = rng.randint(0, 14)
        late_payments = min(12, int(rng.expovariate(0.9)))
        years_employed = min(age - 18, int(rng.expovariate(0.12)))
        z = (-1.1 - 0.02 * (age - 45) - 0.025 * (income - 50) + 3.2 * (debt_ratio - 0.35)
             + 0.55 * late_payments - 0.05 * years_employed + 0.04 * (credit_lines - 6))
        default = 1 if rng.random() < 1 / (1 + math.exp(-z)) else 0
        return [age, income, debt_ratio, credit_lines, late_payments, years_employed, default]

    header = ["age", "income_k", "debt_ratio", "credit_lines", "late_payments",
              "years_employed", "label"]
    for name, count in (("bank_a", 400), ("bank_b", 300), ("bank_c", 300)):
        write(f"credit_{name}.csv", header, [applicant() for _ in range(count)])
    write("credit_applicants.csv", header, [applicant() for _ in range(8)])


def dark_pool():
    rng = random.Random(17)
    # Three trading desks; limits around 100 on a 0.5 grid, lots of 100s.
    for desk, count in (("desk_a", 9), ("desk_b", 7), ("desk_c", 8)):
        rows = []
        for _ in range(count):
            side = rng.choice(["buy", "sell"])
            centre = 100.5 if side == "buy" else 99.5
            limit = round(rng.gauss(centre, 1.5) * 2) / 2
            rows.append([side, rng.randint(1, 40) * 100, max(95.0, min(105.0, limit))])
        write(f"dark_pool_{desk}.csv", ["side", "quantity", "limit"], rows)


if __name__ == "__main__":
    transactions()
    solvency()
    hospitals()
    credit()
    dark_pool()
