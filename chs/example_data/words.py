"""Code tables and word lists for the example company.

The example company is *Nordwind Telecom*, a German B2B provider of cloud telephony
(softphones, call routing, contact-centre features) sold per seat. Everything in the
generator works on small integer codes; these tables turn codes into the labels that
appear in the exports, so that label strings are built once and gathered, never
formatted per row.
"""

from __future__ import annotations

import numpy as np

COMPANY_DOMAIN = "nordwind-telecom.example"  # .example is reserved (RFC 2606): never a real mailbox

SEGMENTS = ("smb", "mid-market", "enterprise")
SEGMENT_SHARE = np.array([0.62, 0.28, 0.10])

PLANS = ("basic", "pro", "premium")
PLAN_PRICE = np.array([15.0, 32.0, 55.0])  # EUR per seat and month
# Plan mix per segment (rows: segment): larger customers buy the richer plans.
PLAN_MIX = np.array([[0.55, 0.35, 0.10], [0.30, 0.50, 0.20], [0.10, 0.45, 0.45]])
# How many features of FEATURES each plan unlocks (most popular first).
PLAN_FEATURES = np.array([6, 10, 14])

CHANNELS = ("email", "phone", "letter")
CHANNEL_SHARE = np.array([0.6, 0.3, 0.1])

ROLES = ("admin", "power", "occasional")

EVENT_TYPES = ("login", "feature_use", "api_call", "integration_sync", "training_completed")

# Ordered by popularity: an account that uses few features uses the first ones.
FEATURES = (
    "softphone", "voicemail", "call_routing", "conference", "team_chat", "reports",
    "sms", "call_queue", "call_analytics", "ivr_builder", "call_recording", "wallboard",
    "crm_connector", "fax_to_mail",
)

# Add-ons: monthly list price for a 20-seat customer; scaled by account size when booked.
ADDONS = (
    "Extra Seats", "Premium Support", "Analytics Pack", "API Volume Pack", "SMS Bundle 5000",
    "Data Pool 100 GB", "International Calling", "Call Recording", "Sandbox Environment",
)
ADDON_PRICE = np.array([0.0, 99.0, 79.0, 59.0, 45.0, 120.0, 35.0, 49.0, 89.0])
ADDON_WEIGHT = np.array([0.0, 0.16, 0.14, 0.12, 0.12, 0.14, 0.12, 0.12, 0.08])
SEAT_ADDON = 0  # "Extra Seats" bookings carry a seat quantity instead of a fixed price

INDUSTRIES = (
    "telecommunications", "retail", "manufacturing", "logistics", "healthcare", "finance",
    "public sector", "media", "construction", "energy", "software",
)
INDUSTRY_SHARE = np.array([0.06, 0.13, 0.15, 0.11, 0.10, 0.08, 0.05, 0.07, 0.09, 0.06, 0.10])
# One noun list per industry so that names fit the industry ("Rhein Logistik GmbH").
INDUSTRY_NOUNS = (
    ("Telecom", "Networks", "Connect", "Netz", "Com"),
    ("Handel", "Markt", "Retail", "Stores", "Moden", "Foods"),
    ("Maschinenbau", "Werke", "Industries", "Metall", "Präzision", "Technik"),
    ("Logistik", "Spedition", "Transport", "Freight", "Lager"),
    ("Klinik", "Pflege", "Health", "Praxis", "Medical"),
    ("Finanz", "Capital", "Versicherung", "Invest", "Treuhand"),
    ("Stadtwerke", "Verwaltung", "Kreis", "Service"),
    ("Media", "Verlag", "Studios", "Agentur", "Digital"),
    ("Bau", "Immobilien", "Hochbau", "Architekten", "Haustechnik"),
    ("Energie", "Solar", "Wind", "Power", "Netze"),
    ("Software", "Systems", "Data", "Cloud", "Labs", "IT"),
)
PREFIXES = (
    "Nord", "Süd", "Alpen", "Rhein", "Elbe", "Atlas", "Vertex", "Blue", "Falken", "Ostsee",
    "Main", "Kepler", "Orion", "Polar", "Linden", "Eichen", "Isar", "Weser", "Taunus", "Harz",
    "Nova", "Prime", "Delta", "Helios", "Merkur", "Spree", "Bavaria", "Hansa", "Silber", "Adler",
)
SURNAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Braun",
    "Zimmermann", "Krüger", "Hartmann", "Lange", "Jensen", "Rossi", "Dubois", "Novak", "Hansen",
)
LEGAL_FORMS = ("GmbH", "GmbH", "GmbH", "AG", "SE", "KG", "GmbH & Co. KG", "Ltd", "B.V.", "e.K.")

# CSM e-mail addresses use ASCII names only.
CSM_FIRST = (
    "anna", "ben", "clara", "david", "elena", "felix", "greta", "hannah", "jonas", "julia",
    "kai", "laura", "lukas", "marie", "max", "mia", "nico", "paul", "sara", "tim",
    "lea", "finn", "emma", "leon", "nina", "tom", "sophie", "jan", "lisa", "moritz",
)
CSM_LAST = (
    "mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz",
    "hoffmann", "koch", "richter", "klein", "wolf", "schroeder", "neumann", "braun", "krueger",
    "hartmann", "lange", "vogel", "frank", "berger", "keller", "roth", "haas", "graf", "peters",
)

# Ticket categories (codes stay English: configs filter on them) and German subjects.
TICKET_CATEGORIES = (
    "question", "technical", "billing", "outage", "feature_request", "onboarding", "complaint",
)
TICKET_CATEGORY_WEIGHT = np.array([0.28, 0.24, 0.12, 0.06, 0.10, 0.06, 0.04])
COMPLAINT = 6
ONBOARDING_CATEGORY = 5
TICKET_SUBJECTS = (
    ("Frage zur Rechnung", "Frage zu Benutzerrechten", "Wie exportiere ich Berichte?",
     "Rückfrage zum Vertrag", "Frage zur Rufumleitung"),
    ("Fehler beim Login", "Störung der API-Schnittstelle", "Synchronisation schlägt fehl",
     "Softphone stürzt ab", "Export bricht ab", "Echo bei Gesprächen"),
    ("Rechnung fehlerhaft", "Gutschrift für Ausfall", "Änderung der Rechnungsadresse",
     "Doppelte Abbuchung", "Gebühren unklar"),
    ("Totalausfall seit heute Morgen", "Dienst nicht erreichbar", "Sehr langsame Antwortzeiten",
     "Keine eingehenden Anrufe möglich"),
    ("Wunsch: Single Sign-On", "Bitte um zusätzliche Exportformate",
     "Erweiterung der Benutzerverwaltung", "Mehr Felder im Wallboard"),
    ("Zugang für neue Mitarbeiter", "Schulung gewünscht", "Einrichtung der Integration",
     "Rufnummernportierung"),
    ("Beschwerde über Wartezeit", "Unzufrieden mit dem Support", "Beschwerde über Preiserhöhung",
     "Erneute Störung, so nicht akzeptabel", "Beschwerde: Kündigung prüfen"),
)
PRIORITIES = ("low", "normal", "high", "urgent")
TICKET_STATUSES = ("open", "pending", "solved", "closed")

# NPS comments by answer group; empty strings model the many blank comment fields.
NPS_COMMENTS = (
    (  # detractors 0-6
        "Too many outages lately.", "Support takes days to answer.",
        "Price is too high for what we use.", "Invoices are confusing.",
        "Hard to onboard new staff.", "We are evaluating alternatives.",
        "Call quality has dropped, customers complain.", "", "",
    ),
    (  # passives 7-8
        "Works, but reporting could be better.", "Okay overall.",
        "Good product, support is slow sometimes.", "Missing some integrations.",
        "Fine for our needs.", "", "", "",
    ),
    (  # promoters 9-10
        "Great product, our team relies on it every day.", "Excellent support, quick answers.",
        "The CRM integration saves us hours.", "Easy to use, reliable.",
        "Best phone system we have had.", "", "",
    ),
)
