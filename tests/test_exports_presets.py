"""Each `preset:` on its sample export (tests/data/exports/<preset>/), values checked by hand.

Every project scores as of 2024-06-30 with a 30-day window: rows dated 2024-06-01 .. 2024-06-30
(UTC) count. The account list maps the other systems' ids (`via`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.contract.conftest import base_config, leaves_tree, make_project, run_chs, score

EXPORTS = Path(__file__).parent / "data" / "exports"
ACCOUNTS = (
    "account_id,account_name,owner,stripe_customer,zendesk_org_id,freshdesk_company_id,chargebee_customer\n"
    "A1,Acme Corp,jane@x,cus_QAcme01,360001,8000012345,cb_acme\n"
    "A2,Globex,john@x,cus_QGlob02,360002,8000067890,cb_globex\n"
)


def _run(tmp_path: Path, sample: str, source: dict, variables: dict, accounts: dict | None = None,
         extra_sources: dict | None = None, files: dict | None = None):
    target = tmp_path / "exports" / sample
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXPORTS / sample, target)
    sources = {"x": {"path": f"exports/{sample}", **source}, **(extra_sources or {})}
    cfg = base_config(sources=sources, variables=variables, tree=leaves_tree(*variables), accounts=accounts)
    return score(make_project(tmp_path, cfg, files if files is not None else {"data/accounts.csv": ACCOUNTS}))


def test_qualtrics(tmp_path: Path) -> None:
    run = _run(tmp_path, "qualtrics/nps_responses.csv", {"preset": "qualtrics", "account": "external_reference"},
               {"nps": {"source": "x", "agg": "nps", "column": "Q1", "window": "30d"},
                "answers": {"source": "x", "agg": "count", "window": "30d"}})
    assert run.run["sources"]["x"]["rows"] == 4
    assert run.raw("A1", "nps") == 0.0  # 10 and 6
    # 2024-06-30 19:00 in Denver is 2024-07-01 01:00 UTC: after as_of
    assert run.raw("A2", "answers") == 1 and run.raw("A2", "nps") == 100.0


def test_surveymonkey_dates_are_month_first(tmp_path: Path) -> None:
    question = "How likely is it that you would recommend Acme to a friend or colleague?"
    run = _run(tmp_path, "surveymonkey/responses.csv",
               {"preset": "surveymonkey", "account": "custom_data_1", "columns": {question: "score"}},
               {"nps": {"source": "x", "agg": "nps", "column": "score", "window": "30d"}})
    assert run.run["sources"]["x"]["rows"] == 4 and run.run["sources"]["x"]["rejected"] == 0
    assert run.raw("A1", "nps") == 50.0  # 9 and 7 (06/05 and 06/11)
    assert run.raw("A2", "nps") == 100.0  # 05/06 is 6 May: outside the window; 10 on 06/28


def test_typeform(tmp_path: Path) -> None:
    run = _run(tmp_path, "typeform/responses.csv",
               {"preset": "typeform", "account": "account_id",
                "columns": {"How likely are you to recommend Acme to a colleague?": "score"}},
               {"completed": {"source": "x", "agg": "count", "where": "response_type = 'completed'", "window": "30d"},
                "avg_score": {"source": "x", "agg": "avg", "column": "score", "window": "30d"}})
    assert run.raw("A1", "completed") == 2 and run.raw("A1", "avg_score") == 9.0
    assert run.raw("A2", "completed") == 1 and run.raw("A2", "avg_score") == 4.0


def test_delighted_json_epoch_seconds(tmp_path: Path) -> None:
    run = _run(tmp_path, "delighted/survey_responses.json",
               {"preset": "delighted", "account": "person_properties.company_id"},
               {"nps": {"source": "x", "agg": "nps", "column": "score", "window": "30d"}})
    assert run.raw("A1", "nps") == 0.0  # 10 and 4
    assert run.raw("A2", "nps") == 100.0  # 9 at 2024-06-30 00:00 UTC
    assert run.run["sources"]["x"]["newest_in_export"].startswith("2024-06-30 00:00:00")


def test_zendesk_org_ids_mapped_via_the_account_list(tmp_path: Path) -> None:
    run = _run(tmp_path, "zendesk/tickets.json",
               {"preset": "zendesk", "account": {"column": "organization_id", "via": "zendesk_org_id"}},
               {"urgent": {"source": "x", "agg": "count", "where": "priority = 'urgent'", "window": "30d"},
                "good": {"source": "x", "agg": "count", "where": "satisfaction = 'good'", "window": "30d"},
                "tickets": {"source": "x", "agg": "count", "window": "30d"}})
    assert (run.raw("A1", "urgent"), run.raw("A1", "good"), run.raw("A1", "tickets")) == (1, 1, 2)
    assert (run.raw("A2", "urgent"), run.raw("A2", "tickets")) == (1, 1)
    unmatched = run.run["sources"]["x"]["unmatched_keys"]
    assert unmatched == {"keys": 1, "rows": 1, "samples": ["369999"]}
    assert "369999" in run.proc.stderr


def test_freshdesk_codes_become_names(tmp_path: Path) -> None:
    run = _run(tmp_path, "freshdesk/tickets.json",
               {"preset": "freshdesk", "account": {"column": "company_id", "via": "freshdesk_company_id"}},
               {"urgent": {"source": "x", "agg": "count", "where": "priority = 'urgent'", "window": "30d"},
                "unresolved": {"source": "x", "agg": "count", "where": "status IN ('open', 'pending')",
                               "window": "30d"},
                "closed": {"source": "x", "agg": "count", "where": "status = 'closed'", "window": "30d"}})
    assert (run.raw("A1", "urgent"), run.raw("A1", "unresolved"), run.raw("A1", "closed")) == (1, 1, 1)
    assert (run.raw("A2", "urgent"), run.raw("A2", "unresolved"), run.raw("A2", "closed")) == (1, 1, 0)


def test_intercom(tmp_path: Path) -> None:
    run = _run(tmp_path, "intercom/conversations.json",
               {"preset": "intercom", "account": "custom_attributes.company_id"},
               {"rating": {"source": "x", "agg": "avg", "column": "rating", "window": "30d"},
                "open": {"source": "x", "agg": "count", "where": "state = 'open'", "window": "30d"}})
    assert run.raw("A1", "rating") == 3.5 and run.raw("A1", "open") == 1
    assert run.raw("A2", "rating") is None and run.raw("A2", "open") == 0


def test_stripe_api_minor_units_by_currency(tmp_path: Path) -> None:
    run = _run(tmp_path, "stripe/invoices.json",
               {"preset": "stripe", "account": {"column": "customer", "via": "stripe_customer"}},
               {"billed": {"source": "x", "agg": "sum", "column": "amount_due", "window": "30d"},
                "open_amount": {"source": "x", "agg": "sum", "column": "amount_remaining", "window": "30d"},
                "late": {"source": "x", "agg": "count", "where": "paid_at > due_date OR paid_at IS NULL",
                         "window": "30d"}})
    assert run.raw("A1", "billed") == pytest.approx(1348.99)  # 1299.00 + 49.99 USD
    assert run.raw("A2", "billed") == 150000.0  # JPY has no minor unit
    assert run.raw("A1", "open_amount") == pytest.approx(49.99)
    assert run.raw("A1", "late") == 1 and run.raw("A2", "late") == 0
    assert any("amount_due" in n and "minor units" in n for n in run.run["sources"]["x"]["notes"])


def test_stripe_dashboard_csv(tmp_path: Path) -> None:
    run = _run(tmp_path, "stripe/invoices_dashboard.csv",
               {"preset": "stripe", "account": {"column": "customer", "via": "stripe_customer"}},
               {"billed": {"source": "x", "agg": "sum", "column": "amount_due", "window": "30d"}})
    assert run.raw("A1", "billed") == pytest.approx(1348.99)
    assert run.raw("A2", "billed") == 150000.0
    assert "notes" not in run.run["sources"]["x"]  # dashboard amounts are already major units


def test_chargebee_list_of_wrapped_invoices(tmp_path: Path) -> None:
    run = _run(tmp_path, "chargebee/invoices.json",
               {"preset": "chargebee", "account": {"column": "customer_id", "via": "chargebee_customer"}},
               {"due": {"source": "x", "agg": "sum", "column": "amount_due"},
                "billed_30d": {"source": "x", "agg": "sum", "column": "total", "window": "30d"}})
    assert run.raw("A1", "due") == 0.0  # the invoice of 2024-07-01 is not visible yet
    assert run.raw("A1", "billed_30d") == 490.0
    assert run.raw("A2", "due") == pytest.approx(12.55)  # KWD: 3 decimals
    assert run.raw("A2", "billed_30d") == 0.0  # 2024-05-29: before the window


def test_segment(tmp_path: Path) -> None:
    run = _run(tmp_path, "segment/events.jsonl", {"preset": "segment", "account": "context.groupId"},
               {"tracks": {"source": "x", "agg": "count", "where": "type = 'track'", "window": "30d"},
                "users": {"source": "x", "agg": "count_distinct", "column": "user_id", "window": "30d"}})
    assert (run.raw("A1", "tracks"), run.raw("A1", "users")) == (2, 2)
    assert (run.raw("A2", "tracks"), run.raw("A2", "users")) == (1, 1)


def test_mixpanel(tmp_path: Path) -> None:
    run = _run(tmp_path, "mixpanel/export.jsonl", {"preset": "mixpanel", "account": "properties.company_id"},
               {"logins": {"source": "x", "agg": "count", "where": "event = 'Login'", "window": "30d"},
                "pro_events": {"source": "x", "agg": "count", "where": "properties.plan = 'pro'", "window": "30d"}})
    assert (run.raw("A1", "logins"), run.raw("A1", "pro_events")) == (1, 2)
    assert (run.raw("A2", "logins"), run.raw("A2", "pro_events")) == (1, 0)  # 2024-07-01 00:00 not yet


def test_amplitude_zip_of_gzipped_jsonl(tmp_path: Path) -> None:
    run = _run(tmp_path, "amplitude/export.zip", {"preset": "amplitude", "account": "user_properties.company_id"},
               {"events": {"source": "x", "agg": "count", "window": "30d"}})
    assert run.run["sources"]["x"]["rows"] == 4
    assert run.raw("A1", "events") == 2
    assert run.raw("A2", "events") == 1  # 23:59:59.999999 on as_of counts, 00:00:00.000001 next day not


def test_posthog_properties_text_is_parsed(tmp_path: Path) -> None:
    run = _run(tmp_path, "posthog/events.jsonl", {"preset": "posthog", "account": "properties.$groups.company"},
               {"events": {"source": "x", "agg": "count", "window": "30d"},
                "pageviews": {"source": "x", "agg": "count", "where": "event = '$pageview'", "window": "30d"}})
    assert (run.raw("A1", "events"), run.raw("A1", "pageviews")) == (2, 1)
    assert (run.raw("A2", "events"), run.raw("A2", "pageviews")) == (1, 1)


def test_salesforce_report_as_the_account_list(tmp_path: Path) -> None:
    target = tmp_path / "exports" / "salesforce"
    target.mkdir(parents=True)
    shutil.copy(EXPORTS / "salesforce" / "accounts_report.csv", target)
    cfg = base_config(
        sources={"accounts": {"path": "exports/salesforce/accounts_report.csv", "preset": "salesforce"}},
        accounts={"source": "accounts", "id": "account_id", "name": "account_name", "owner": "owner",
                  "start": "customer_since"},
        variables={"revenue": {"source": "accounts", "column": "annual_revenue"},
                   "tenure": {"expr": "tenure_days"}},
        tree=leaves_tree("revenue", "tenure"))
    run = score(make_project(tmp_path, cfg, {}))
    assert run.run["sources"]["accounts"]["rows"] == 2  # the footer is not an account
    assert run.raw("0015g00000AbCdEAAV", "revenue") == 1_200_000
    assert run.raw("0015g00000AbCdEAAV", "tenure") == 838  # 2022-03-15 .. 2024-06-30
    assert run.row("0015g00000FgHiJAA1")["account_name"] == "Globex, Inc."


def test_hubspot_companies_as_the_account_list(tmp_path: Path) -> None:
    target = tmp_path / "exports" / "hubspot"
    target.mkdir(parents=True)
    shutil.copy(EXPORTS / "hubspot" / "companies.csv", target)
    cfg = base_config(
        sources={"crm": {"path": "exports/hubspot/companies.csv", "preset": "hubspot"}},
        accounts={"source": "crm", "id": "record_id", "name": "company_name", "owner": "owner"},
        variables={"employees": {"source": "crm", "column": "employees"},
                   "days_quiet": {"source": "crm", "expr": "date_diff('day', CAST(last_activity_at AS DATE), as_of)"}},
        tree=leaves_tree("employees", "days_quiet"))
    run = score(make_project(tmp_path, cfg, {}))
    assert run.raw("5001", "employees") == 250 and run.raw("5001", "days_quiet") == 10
    assert run.raw("5003", "employees") is None
    assert run.row("5002")["account_name"] == "Globex Inc."


def test_excel_de(tmp_path: Path) -> None:
    run = _run(tmp_path, "excel_de/rechnungen.csv", {"preset": "excel_de", "account": "Kunde", "time": "Datum"},
               {"billed": {"source": "x", "agg": "sum", "column": "Betrag", "window": "30d"},
                "euro_notes": {"source": "x", "agg": "count", "where": "Notiz LIKE '%€ „Premium“%'"}})
    assert run.raw("A1", "billed") == pytest.approx(1234.56)  # 01.07.2024 is after as_of
    assert run.raw("A2", "billed") == pytest.approx(2015.5)
    assert run.raw("A1", "euro_notes") == 1
    assert run.run["sources"]["x"]["rejected"] == 0


def test_user_keys_override_the_preset(tmp_path: Path) -> None:
    # excel_de reads dd.mm.yyyy; this file says yyyy-mm-dd and uses ',' as the delimiter.
    (tmp_path / "data").mkdir(parents=True)
    (tmp_path / "data" / "r.csv").write_text("Kunde,Datum,Betrag\nA1,2024-06-03,\"1.234,50\"\n", encoding="cp1252")
    cfg = base_config(sources={"r": {"path": "data/r.csv", "preset": "excel_de", "account": "Kunde", "time": "Datum",
                                     "csv": {"delimiter": ",", "date_format": "%Y-%m-%d"}}},
                      variables={"billed": {"source": "r", "agg": "sum", "column": "Betrag", "window": "30d"}},
                      tree=leaves_tree("billed"))
    run = score(make_project(tmp_path, cfg, {"data/accounts.csv": ACCOUNTS}))
    assert run.raw("A1", "billed") == 1234.5


def test_init_preset_prints_a_source_block_that_loads(tmp_path: Path) -> None:
    import yaml
    proc = run_chs(tmp_path / "none.yaml", "init", "--preset", "stripe")
    assert proc.returncode == 0, proc.stderr
    block = yaml.safe_load(proc.stdout)
    assert block["sources"]["stripe"]["preset"] == "stripe"
    assert block["sources"]["stripe"]["account"] == {"column": "customer", "via": "stripe_customer"}
    assert "minor units" in proc.stdout
    assert not (tmp_path / "chs.yaml").exists()
    proc = run_chs(tmp_path / "none.yaml", "init", "--preset", "nope")
    assert proc.returncode == 2 and "qualtrics" in proc.stderr


def test_validate_reports_converted_money_columns(tmp_path: Path) -> None:
    _run(tmp_path, "stripe/invoices.json",
         {"preset": "stripe", "account": {"column": "customer", "via": "stripe_customer"}},
         {"billed": {"source": "x", "agg": "sum", "column": "amount_due"}})
    proc = run_chs(tmp_path / "chs.yaml", "validate")
    assert proc.returncode == 0, proc.stderr
    assert "money columns converted from minor units" in proc.stdout
    assert "amount_due, amount_paid, amount_remaining, total, subtotal" in proc.stdout


def test_salesforce_footer_count_that_does_not_match_warns(tmp_path: Path) -> None:
    text = (EXPORTS / "salesforce" / "accounts_report.csv").read_text().replace("(2 records)", "(3 records)")
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "r.csv").write_text(text)
    cfg = base_config(
        sources={"accounts": {"path": "exports/r.csv", "preset": "salesforce"}},
        accounts={"source": "accounts", "id": "account_id", "name": "account_name", "owner": "owner"},
        variables={"revenue": {"source": "accounts", "column": "annual_revenue"}},
        tree=leaves_tree("revenue"))
    run = score(make_project(tmp_path, cfg, {}))
    assert "the report footer says 3 records, 2 rows were read" in run.proc.stderr

