"""How an objective's percentages read to a person: one precision for attainment, one for the error budget.

The objectives list, an objective's page and the reports (page and e-mail) all format through here, so one
objective never reads 99.950 % in one place and 99.9500 % in another. The CSV export keeps its own, finer
precision (objectives/reports.py ``to_csv``): it is read by programs, not people.
"""

from __future__ import annotations

# 99.950 %: a three-nines target needs the third decimal to tell met from missed.
ATTAINMENT_DECIMALS = 3
# 42.5 %: the budget left is a gauge; a tenth of a percent is as fine as anyone reads it.
BUDGET_DECIMALS = 1


def attainment_text(value: float) -> str:
    return f"{value:.{ATTAINMENT_DECIMALS}f}"


def budget_text(value: float) -> str:
    return f"{value:.{BUDGET_DECIMALS}f}"
