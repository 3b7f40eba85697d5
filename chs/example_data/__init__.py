"""A realistic example company for trying, testing and benchmarking chs.

*Nordwind Telecom* sells cloud telephony to businesses per seat. ``generate`` writes the
exports such a company has (CRM accounts, users, product usage, a German-Excel ticket
export, NPS responses, invoices, add-on bookings) plus the churn outcomes, all driven
by a hidden per-account health that drifts month by month. See ``simulate`` for the model.
"""

from chs.example_data.core import DEFAULT_END, DEFAULT_EVENTS_PER_ACCOUNT_MONTH, generate

__all__ = ["DEFAULT_END", "DEFAULT_EVENTS_PER_ACCOUNT_MONTH", "generate"]
