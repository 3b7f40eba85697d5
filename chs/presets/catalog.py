"""The known exports (DESIGN 6.2): what each preset sets, as data.

Column names and value formats follow the tools' documented exports (EXPORTS.md). A preset
sets source keys (reader options, `time`, `account`, `time_unit`, ...) only where the user
did not; renames apply to the columns the file has (several export names may map to one
name: exports renamed columns over time); the user's own `columns:` win.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# ISO 4217 currencies whose minor unit is not 1/100 (Stripe's list of zero-decimal and
# three-decimal currencies); every other currency has 2 decimals.
ZERO_DECIMAL = ("BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                "VUV", "XAF", "XOF", "XPF")
THREE_DECIMAL = ("BHD", "JOD", "KWD", "OMR", "TND")


@dataclass(frozen=True)
class Preset:
    """What one known export needs to be read right."""

    name: str
    what: str  # one line for README / init
    sample: str  # the sample file it is tested on, under tests/data/exports/
    source: dict[str, Any] = field(default_factory=dict)  # Source keys it sets (user overrides)
    renames: dict[str, str] = field(default_factory=dict)  # export name -> our name
    epoch: tuple[str, ...] = ()  # columns (our names) holding epoch seconds -> TIMESTAMP
    codes: dict[str, dict[Any, str]] = field(default_factory=dict)  # column -> code -> name
    money: tuple[str, ...] = ()  # minor-unit amounts (API JSON only) -> major units
    currency: str | None = None  # the column naming each row's currency
    zone_columns: tuple[str, ...] = ()  # local times whose zone the export names (Qualtrics)
    zone_from_import_id: bool = False
    starter: dict[str, Any] = field(default_factory=dict)  # extra keys for `chs init --preset`
    notes: str = ""


PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset(
        "qualtrics", "Qualtrics survey responses, CSV with 3 header rows (names, question texts, ImportId)",
        "qualtrics/nps_responses.csv",
        source={"csv": {"header_rows": 2}, "time": "recorded_at"},
        renames={"StartDate": "started_at", "EndDate": "ended_at", "RecordedDate": "recorded_at",
                 "Status": "status", "IPAddress": "ip_address", "Progress": "progress",
                 "Duration (in seconds)": "duration_seconds", "Finished": "finished",
                 "ResponseId": "response_id", "RecipientLastName": "recipient_last_name",
                 "RecipientFirstName": "recipient_first_name", "RecipientEmail": "recipient_email",
                 "ExternalReference": "external_reference", "LocationLatitude": "location_latitude",
                 "LocationLongitude": "location_longitude", "DistributionChannel": "distribution_channel",
                 "UserLanguage": "user_language"},
        zone_columns=("started_at", "ended_at", "recorded_at"), zone_from_import_id=True,
        starter={"account": "external_reference"},
        notes="times are local to the zone named in the ImportId row (`timeZone`); without one, "
              "`timezone:` is required"),
    Preset(
        "surveymonkey", "SurveyMonkey responses, CSV with 2 header rows (questions, sub-answers)",
        "surveymonkey/responses.csv",
        source={"csv": {"header_rows": 1, "timestamp_format": "%m/%d/%Y %I:%M:%S %p"}, "time": "ended_at"},
        renames={"Respondent ID": "respondent_id", "Collector ID": "collector_id", "Start Date": "started_at",
                 "End Date": "ended_at", "IP Address": "ip_address", "Email Address": "email",
                 "First Name": "first_name", "Last Name": "last_name", "Custom Data 1": "custom_data_1"},
        starter={"account": "custom_data_1"},
        notes="dates are US month-first with AM/PM, in the survey owner's zone: set `timezone:`"),
    Preset(
        "typeform", "Typeform responses CSV", "typeform/responses.csv",
        source={"time": "submitted_at"},
        renames={"#": "response_id", "Response Type": "response_type", "Start Date (UTC)": "started_at",
                 "Stage Date (UTC)": "staged_at", "Submit Date (UTC)": "submitted_at",
                 "Network ID": "network_id", "Tags": "tags"},
        starter={"account": "account_id"},
        notes="hidden fields (e.g. account_id) are columns of their own"),
    Preset(
        "delighted", "Delighted survey responses, API JSON (created_at in epoch seconds)",
        "delighted/survey_responses.json",
        source={"time": "created_at", "time_unit": "s"},
        renames={"person": "person_id"}, epoch=("created_at", "updated_at"),
        starter={"account": "person_properties.company_id"}),
    Preset(
        "zendesk", "Zendesk tickets, API JSON (`{\"tickets\": [...]}`) or JSONL",
        "zendesk/tickets.json",
        source={"json": {"records": "tickets"}, "time": "created_at", "account": "organization_id"},
        renames={"satisfaction_rating.score": "satisfaction"},
        starter={"account": {"column": "organization_id", "via": "zendesk_org_id"}},
        notes="tickets carry Zendesk's own organization id: map it with `via:`"),
    Preset(
        "freshdesk", "Freshdesk tickets, API JSON (status and priority as integer codes)",
        "freshdesk/tickets.json",
        source={"time": "created_at", "account": "company_id"},
        codes={"status": {2: "open", 3: "pending", 4: "resolved", 5: "closed"},
               "priority": {1: "low", 2: "medium", 3: "high", 4: "urgent"},
               "source": {1: "email", 2: "portal", 3: "phone", 7: "chat", 9: "feedback_widget",
                          10: "outbound_email"}},
        starter={"account": {"column": "company_id", "via": "freshdesk_company_id"}}),
    Preset(
        "intercom", "Intercom conversations, API JSON (`{\"conversations\": [...]}`, epoch seconds)",
        "intercom/conversations.json",
        source={"json": {"records": "conversations"}, "time": "created_at", "time_unit": "s"},
        renames={"conversation_rating.rating": "rating", "conversation_rating.remark": "rating_remark"},
        epoch=("created_at", "updated_at", "waiting_since", "snoozed_until"),
        starter={"account": "custom_attributes.company_id"}),
    Preset(
        "stripe", "Stripe invoices: API JSON (list object or JSONL; minor units) or dashboard CSV",
        "stripe/invoices.json",
        source={"json": {"records": "data"}, "time": "created", "account": "customer"},
        renames={"status_transitions.paid_at": "paid_at", "status_transitions.finalized_at": "finalized_at",
                 # dashboard CSV (renamed over time: aliases map to one name)
                 "Customer": "customer", "Customer Name": "customer_name", "Customer Email": "customer_email",
                 "Amount Due": "amount_due", "Amount Paid": "amount_paid", "Amount Remaining": "amount_remaining",
                 "Total": "total", "Subtotal": "subtotal", "Paid": "paid", "Status": "status",
                 "Number": "number", "Subscription": "subscription", "Currency": "currency",
                 "Date (UTC)": "created", "Created (UTC)": "created", "Due Date (UTC)": "due_date",
                 "Finalized At (UTC)": "finalized_at", "Paid At (UTC)": "paid_at",
                 "Period End (UTC)": "period_end", "Period Start (UTC)": "period_start"},
        epoch=("created", "due_date", "paid_at", "finalized_at", "period_start", "period_end"),
        money=("amount_due", "amount_paid", "amount_remaining", "total", "subtotal", "tax",
               "starting_balance", "ending_balance"),
        currency="currency",
        starter={"account": {"column": "customer", "via": "stripe_customer"}},
        notes="API amounts are minor units (cents): divided by 10^decimals of the currency "
              "(JPY 0, KWD 3, else 2); dashboard CSV amounts are already major units"),
    Preset(
        "chargebee", "Chargebee invoices, API JSON (`{\"list\": [{\"invoice\": ...}]}`) or JSONL",
        "chargebee/invoices.json",
        source={"json": {"records": "list.invoice"}, "time": "invoiced_at", "account": "customer_id"},
        renames={"date": "invoiced_at", "currency_code": "currency"},
        epoch=("invoiced_at", "due_date", "paid_at", "updated_at", "generated_at"),
        money=("total", "amount_paid", "amount_due", "amount_adjusted", "credits_applied", "write_off_amount",
               "sub_total", "tax"),
        currency="currency",
        starter={"account": {"column": "customer_id", "via": "chargebee_customer"}},
        notes="amounts are minor units: divided by 10^decimals of `currency_code`"),
    Preset(
        "segment", "Segment events, JSONL (S3 / warehouse export)", "segment/events.jsonl",
        source={"time": "timestamp"},
        renames={"userId": "user_id", "anonymousId": "anonymous_id", "groupId": "group_id",
                 "messageId": "message_id", "receivedAt": "received_at", "sentAt": "sent_at",
                 "originalTimestamp": "original_timestamp"},
        starter={"account": "context.groupId"},
        notes="track calls carry the account in `context.groupId` (or a property), group calls in `groupId`"),
    Preset(
        "mixpanel", "Mixpanel raw event export, JSONL (`properties.time` in epoch seconds)",
        "mixpanel/export.jsonl",
        source={"time": "time", "time_unit": "s"},
        renames={"properties.time": "time", "properties.distinct_id": "distinct_id",
                 "properties.$insert_id": "insert_id"},
        epoch=("time",),
        starter={"account": "properties.company_id"},
        notes="set `time_unit: ms` for exports with millisecond times"),
    Preset(
        "amplitude", "Amplitude export: a zip of gzipped JSONL files, one event per line",
        "amplitude/export.zip",
        source={"time": "event_time"},
        renames={"$insert_id": "insert_id"},
        starter={"account": "user_properties.company_id"},
        notes="event_time is UTC"),
    Preset(
        "posthog", "PostHog batch export, JSONL (`properties` is a JSON text)", "posthog/events.jsonl",
        source={"json": {"parse": ["properties"]}, "time": "timestamp"},
        starter={"account": "properties.$groups.company"}),
    Preset(
        "salesforce", "Salesforce report export, CSV (all quoted, footer with Grand Totals)",
        "salesforce/accounts_report.csv",
        source={"csv": {"delimiter": ",", "quote": '"', "footer": True, "date_format": "%m/%d/%Y"}},
        renames={"Account ID": "account_id", "Account Name": "account_name", "Account Owner": "owner",
                 "Type": "type", "Industry": "industry", "Annual Revenue": "annual_revenue",
                 "Employees": "employees", "Billing Country": "billing_country", "Created Date": "created_date",
                 "Last Activity": "last_activity", "Customer Since": "customer_since"},
        notes="dates follow the exporting user's locale: the preset reads US month-first; set "
              "csv.date_format for others"),
    Preset(
        "hubspot", "HubSpot companies export, CSV", "hubspot/companies.csv",
        renames={"Record ID": "record_id", "Company name": "company_name", "Company Domain Name": "domain",
                 "Company owner": "owner", "Create Date": "created_at", "Industry": "industry",
                 "Country/Region": "country", "Last Activity Date": "last_activity_at",
                 "Annual Revenue": "annual_revenue", "Number of Employees": "employees",
                 "Lifecycle Stage": "lifecycle_stage"}),
    Preset(
        "excel_de", "German Excel CSV: `;`, decimal comma, cp1252, a leading `sep=;` line",
        "excel_de/rechnungen.csv",
        source={"csv": {"delimiter": ";", "decimal": ",", "thousands": ".", "encoding": "cp1252",
                        "date_format": "%d.%m.%Y"}}),
]}
