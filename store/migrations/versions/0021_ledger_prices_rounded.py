"""The billing ledger's prices to its four places on SQLite, as PostgreSQL has kept them.

Until the core rounded a price before billing it, a price of more places (a tenth of an SMS
price of four, 0.45555) reached the ledger as it was: PostgreSQL's numeric(12, 4) rounded it
half away from zero (0.4556), while SQLite kept the float and summed it unrounded, so one
traffic had two bills. Each SQLite entry is rounded as PostgreSQL would have, from the decimal
the float was written from (its shortest repr); on PostgreSQL there is nothing to do, and run
twice, it finds nothing left.

Undone, nothing is taken back: the rounded prices are the bills.

Revision ID: 0021_ledger_prices_rounded
Revises: 0019_mend_edited_notifications
Create Date: 2026-11-29
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from alembic import op

revision = "0021_ledger_prices_rounded"
down_revision = "0019_mend_edited_notifications"
branch_labels = None
depends_on = None

# the ledger's places, as ownership.prices keeps them; written out: a revision keeps what it did
PLACES = Decimal("0.0001")
# an entry SQLite keeps as a float of more than four places
UNROUNDED = sa.text("typeof(price) = 'real' and price <> round(price, 4)")
LEDGER = sa.table("billing_ledger", sa.column("price"))
PRICES_A_STATEMENT = 300


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    # the floats of more than four places, read raw, not through Numeric, which would round
    # them its own way (from the binary value, not half away from zero): a handful of prices
    # however long the ledger
    unrounded = bind.execute(sa.select(LEDGER.c.price).distinct().where(UNROUNDED)).scalars()
    rounded = {
        price: float(Decimal(repr(price)).quantize(PLACES, rounding=ROUND_HALF_UP))
        for price in unrounded
    }
    # a statement per few hundred prices: two parameters each, and older SQLite builds take
    # 999 at most
    prices = list(rounded.items())
    for start in range(0, len(prices), PRICES_A_STATEMENT):
        some = dict(prices[start : start + PRICES_A_STATEMENT])
        bind.execute(
            LEDGER.update()
            .where(UNROUNDED, LEDGER.c.price.in_(list(some)))
            .values(price=sa.case(some, value=LEDGER.c.price))
        )


def downgrade() -> None:
    pass
