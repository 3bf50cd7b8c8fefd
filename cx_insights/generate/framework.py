"""The CX Insights Framework the generator writes, and the survey design.

Reference data, identical for every size and seed: journeys, jobs to be done,
touchpoints, the rules that map web pages and ticket categories to
touchpoints, the initiatives, and the survey questions. The generator's
behavioural parameters that depend on the framework (touchpoint quality,
driver weights per journey) live here too, next to what they describe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cx_insights.contract import entity

_TICKETS = entity("tickets__tickets")

JOURNEYS: tuple[tuple[str, str, int], ...] = (
    ("J01", "Discover & buy", 1),
    ("J02", "Get started", 2),
    ("J03", "Use & get help", 3),
    ("J04", "Pay, renew or leave", 4),
)

JOBS: tuple[tuple[str, str, str], ...] = (
    (
        "JOB-01",
        "J01",
        "When I am comparing offers, I want to see clearly what each plan gives me and "
        "what it costs, so I can choose with confidence.",
    ),
    (
        "JOB-02",
        "J01",
        "When I have made up my mind, I want to pay quickly and safely, so I can start right away.",
    ),
    (
        "JOB-03",
        "J02",
        "When my order is on its way, I want to know exactly when it will arrive, "
        "so I can plan to be there.",
    ),
    (
        "JOB-04",
        "J02",
        "When I sign in for the first time, I want to set everything up without help, "
        "so I get value on day one.",
    ),
    (
        "JOB-05",
        "J03",
        "When I am stuck, I want to find the answer myself in minutes, "
        "so I do not have to contact anyone.",
    ),
    (
        "JOB-06",
        "J03",
        "When something goes wrong, I want it fixed at the first contact, "
        "so I can get back to what I was doing.",
    ),
    (
        "JOB-07",
        "J04",
        "When my bill arrives, I want to understand every line, "
        "so I can trust that I am charged fairly.",
    ),
    (
        "JOB-08",
        "J04",
        "When my needs change, I want to change or cancel my plan easily, "
        "so I only pay for what I use.",
    ),
)


@dataclass(frozen=True)
class Touchpoint:
    touchpoint_id: str
    job_id: str
    name: str
    channel: str
    is_controllable: bool
    #: Baseline experience quality (latent units) of this touchpoint.
    quality: float
    #: Relative share of transactional survey invitations it triggers.
    survey_weight: float


TOUCHPOINTS: tuple[Touchpoint, ...] = (
    Touchpoint("TP-01", "JOB-01", "Pricing page", "web", True, 0.0, 0.07),
    Touchpoint("TP-02", "JOB-01", "Product pages", "web", True, 0.1, 0.06),
    Touchpoint("TP-03", "JOB-01", "Partner store visit", "store", False, 0.3, 0.05),
    Touchpoint("TP-04", "JOB-02", "Checkout", "web", True, -0.5, 0.12),
    Touchpoint("TP-05", "JOB-02", "Order confirmation e-mail", "email", True, 0.2, 0.04),
    Touchpoint("TP-06", "JOB-03", "Delivery tracking", "email", False, -0.3, 0.08),
    Touchpoint("TP-07", "JOB-04", "In-app onboarding", "app", True, 0.1, 0.08),
    Touchpoint("TP-08", "JOB-04", "Welcome call", "phone", True, 0.3, 0.04),
    Touchpoint("TP-09", "JOB-05", "Help centre", "web", True, -0.1, 0.07),
    Touchpoint("TP-10", "JOB-05", "Mobile app", "app", True, 0.2, 0.10),
    Touchpoint("TP-11", "JOB-06", "Phone support", "phone", True, -0.2, 0.00),
    Touchpoint("TP-12", "JOB-06", "Chat support", "chat", True, 0.0, 0.00),
    Touchpoint("TP-13", "JOB-06", "E-mail support", "email", True, -0.1, 0.00),
    Touchpoint("TP-14", "JOB-07", "Invoice", "email", True, -0.2, 0.09),
    Touchpoint("TP-15", "JOB-07", "Billing page", "web", True, 0.0, 0.06),
    Touchpoint("TP-16", "JOB-08", "Plan change and cancellation", "web", True, -0.1, 0.06),
    Touchpoint("TP-17", "JOB-08", "Retention call", "phone", True, 0.2, 0.04),
)
TP_INDEX: dict[str, int] = {tp.touchpoint_id: i for i, tp in enumerate(TOUCHPOINTS)}
JOB_JOURNEY: dict[str, str] = {job_id: journey_id for job_id, journey_id, _ in JOBS}
JOURNEY_INDEX: dict[str, int] = {j[0]: i for i, j in enumerate(JOURNEYS)}
#: Journey index (0..3) of each touchpoint index.
TP_JOURNEY = np.array([JOURNEY_INDEX[JOB_JOURNEY[tp.job_id]] for tp in TOUCHPOINTS])
TP_QUALITY = np.array([tp.quality for tp in TOUCHPOINTS])
#: The support desk touchpoint of each ticket channel (phone, chat, else e-mail support).
SUPPORT_TP = {"phone": TP_INDEX["TP-11"], "chat": TP_INDEX["TP-12"]}
SUPPORT_TP_DEFAULT = TP_INDEX["TP-13"]

#: (rule_id, source, match_column, pattern, touchpoint_id, priority). Lower priority wins;
#: `/help/billing%` overlaps `/help%` and `billing_plan%` overlaps `billing%` on purpose.
TOUCHPOINT_RULES: tuple[tuple[str, str, str, str, str, int], ...] = (
    ("R-W01", "web", "page_path", "/pricing%", "TP-01", 10),
    ("R-W02", "web", "page_path", "/products%", "TP-02", 20),
    ("R-W03", "web", "page_path", "/checkout%", "TP-04", 10),
    ("R-W04", "web", "page_path", "/cart%", "TP-04", 20),
    ("R-W05", "web", "page_path", "/help%", "TP-09", 50),
    ("R-W06", "web", "page_path", "/help/billing%", "TP-15", 10),
    ("R-W07", "web", "page_path", "/account/billing%", "TP-15", 10),
    ("R-W08", "web", "page_path", "/account/plan%", "TP-16", 10),
    ("R-W09", "web", "page_path", "/welcome%", "TP-07", 10),
    ("R-W10", "web", "page_path", "/orders%", "TP-06", 30),
    ("R-T01", "tickets", "category", "billing%", "TP-14", 20),
    ("R-T02", "tickets", "category", "billing_plan%", "TP-16", 10),
    ("R-T03", "tickets", "category", "delivery%", "TP-06", 20),
    ("R-T04", "tickets", "category", "technical%", "TP-10", 20),
    ("R-T05", "tickets", "category", "account%", "TP-07", 20),
    ("R-T06", "tickets", "category", "cancellation%", "TP-16", 20),
)


@dataclass(frozen=True)
class Initiative:
    initiative_id: str
    name: str
    owner: str
    touchpoint_id: str | None
    journey_id: str | None
    #: Start as a fraction of the data window (so it sits mid-window for any length).
    start_fraction: float
    #: Length in months, None = still running.
    duration_months: int | None
    cost: str
    currency: str
    target_metric: str
    target_value: str


INITIATIVES: tuple[Initiative, ...] = (
    Initiative(
        "INI-01",
        "Checkout redesign: one page, saved cards",
        "Head of E-commerce",
        "TP-04",
        None,
        0.5,
        None,
        "120000.00",
        "EUR",
        "csat",
        "85",
    ),
    Initiative(
        "INI-02",
        "Call-back instead of queue in customer service",
        "Customer Service Director",
        None,
        "J03",
        0.625,
        None,
        "45000.00",
        "GBP",
        "median_first_response_minutes",
        "30",
    ),
    Initiative(
        "INI-03",
        "Plain-language invoices",
        "Billing Product Owner",
        "TP-14",
        None,
        0.3,
        6,
        "30000.00",
        "USD",
        "nps",
        "20",
    ),
)

# --- surveys ------------------------------------------------------------------

DRIVERS: tuple[str, ...] = ("ease", "speed", "courtesy", "knowledge", "price")

#: How strongly each driver (columns, in DRIVERS order) moves NPS, per journey (rows,
#: in JOURNEYS order) and for relational surveys (last row). `ease` is the strongest
#: at company level; `speed` and `knowledge` lead in J03, `price` leads in J04.
DRIVER_WEIGHTS = np.array(
    [
        [0.65, 0.15, 0.05, 0.15, 0.45],  # J01 discover & buy
        [0.75, 0.30, 0.10, 0.25, 0.05],  # J02 get started
        [0.35, 0.55, 0.25, 0.45, 0.05],  # J03 use & get help
        [0.40, 0.10, 0.15, 0.10, 0.60],  # J04 pay, renew or leave
        [0.60, 0.25, 0.10, 0.20, 0.30],  # relational (no touchpoint)
    ]
)

SURVEY_REL, SURVEY_DIGITAL, SURVEY_ASSISTED = 0, 1, 2
SURVEYS: tuple[str, ...] = ("SRV-REL", "SRV-DIG", "SRV-AST")


@dataclass(frozen=True)
class Question:
    question_id: str
    survey: int
    metric: str
    driver: str | None
    scale_min: int | None
    scale_max: int | None
    text: str


_DRIVER_TEXT = {
    "ease": "How easy was it to get what you needed?",
    "speed": "How quickly was it done?",
    "courtesy": "How friendly and respectful were we?",
    "knowledge": "How well did we know what we were talking about?",
    "price": "How fair is the price for what you get?",
}


def _survey_questions(survey: int, prefix: str) -> list[Question]:
    qs = [
        Question(
            f"{prefix}-NPS",
            survey,
            "nps",
            None,
            0,
            10,
            "How likely are you to recommend us to a friend or colleague?",
        )
    ]
    if survey != SURVEY_REL:
        qs.append(
            Question(
                f"{prefix}-CSAT",
                survey,
                "csat",
                None,
                1,
                5,
                "Overall, how satisfied are you with this experience?",
            )
        )
        ces_max = 7 if survey == SURVEY_DIGITAL else 5
        qs.append(
            Question(
                f"{prefix}-CES",
                survey,
                "ces",
                None,
                1,
                ces_max,
                "To what extent do you agree: the company made it easy for me to handle this.",
            )
        )
    for d in DRIVERS:
        qs.append(Question(f"{prefix}-{d.upper()}", survey, "driver", d, 1, 5, _DRIVER_TEXT[d]))
    qs.append(
        Question(
            f"{prefix}-VERBATIM",
            survey,
            "verbatim",
            None,
            None,
            None,
            "What is the main reason for your score?",
        )
    )
    return qs


QUESTIONS: tuple[Question, ...] = tuple(
    _survey_questions(SURVEY_REL, "Q-REL")
    + _survey_questions(SURVEY_DIGITAL, "Q-DIG")
    + _survey_questions(SURVEY_ASSISTED, "Q-AST")
)

VERBATIMS: dict[str, tuple[str, ...]] = {
    "detractor": (
        "Took far too long to sort out a simple problem.",
        "I had to explain everything again every time I called.",
        "Too expensive for what you get.",
        "The website kept failing at checkout.",
        "My delivery was late and nobody told me why.",
        "The invoice is impossible to understand.",
        "Nobody seemed to know the answer.",
        "Cancelling is made deliberately hard.",
        "The app logs me out all the time.",
        "Still waiting for the refund I was promised.",
    ),
    "passive": (
        "It works, but nothing special.",
        "Fine most of the time, support could be faster.",
        "Good product, a bit pricey.",
        "Setup took longer than expected.",
        "OK overall.",
        "The help pages answered half of my question.",
    ),
    "promoter": (
        "Everything just works, and it is easy to use.",
        "The agent solved my problem in one call, thank you!",
        "Great value for money.",
        "Super quick delivery and easy setup.",
        "Friendly people who know what they are doing.",
        "Checkout took a minute, very smooth.",
        "Best service I have had from any provider.",
    ),
}

#: Verbatims that carry contact details the warehouse must mask (reserved example
#: domains and fictional numbers only).
VERBATIMS_WITH_PII: tuple[str, ...] = (
    "Please call me back on +44 7700 900123, nobody answers my e-mails.",
    "Write to me at jane.doe@example.com, I never got the confirmation.",
    "My number is 0151 2345 6789, call me about the invoice.",
    "Contact me: m.rossi@example.org or +39 312 555 0147.",
    "I sent three messages from peter.smith@example.net and got no reply.",
    "Ring +1 (555) 010-4477 after 6 pm please.",
)

# --- people and places ---------------------------------------------------------

#: country_code, currency, share of customers
COUNTRIES: tuple[tuple[str, str, float], ...] = (
    ("DE", "EUR", 0.22),
    ("FR", "EUR", 0.12),
    ("NL", "EUR", 0.08),
    ("ES", "EUR", 0.06),
    ("IT", "EUR", 0.06),
    ("IE", "EUR", 0.03),
    ("GB", "GBP", 0.23),
    ("US", "USD", 0.20),
)
CURRENCIES: tuple[str, ...] = ("EUR", "USD", "GBP")
#: Rate to EUR at the start of the rate history (then a small monthly random walk).
FX_START = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17}

SEGMENTS: tuple[str, ...] = ("consumer", "smb", "enterprise")
SEGMENT_SHARE = (0.76, 0.19, 0.05)
AGE_BANDS: tuple[str, ...] = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_SHARE = (0.10, 0.26, 0.24, 0.19, 0.13, 0.08)
ACQUISITION: tuple[str, ...] = (
    "organic_search",
    "paid_search",
    "social",
    "referral",
    "partner_store",
    "direct",
    "email_campaign",
)
ACQUISITION_SHARE = (0.24, 0.22, 0.14, 0.12, 0.08, 0.14, 0.06)

#: plan, segment index, price in EUR, USD, GBP (None = negotiated), share within segment
PLANS: tuple[tuple[str, int, tuple[str, str, str] | None, float], ...] = (
    ("basic", 0, ("9.99", "10.99", "8.99"), 0.45),
    ("standard", 0, ("19.99", "21.99", "17.99"), 0.40),
    ("premium", 0, ("39.99", "44.99", "34.99"), 0.15),
    ("business", 1, ("99.00", "109.00", "89.00"), 0.60),
    ("business_plus", 1, ("249.00", "269.00", "219.00"), 0.40),
    ("enterprise", 2, None, 1.0),
)

FIRST_NAMES: tuple[str, ...] = (
    "Anna", "Ben", "Chloé", "David", "Elif", "Finn", "Giulia", "Hannah", "Ivan", "Julia",
    "Karim", "Laura", "Mateo", "Nina", "Oliver", "Paula", "Quentin", "Rosa", "Samuel", "Tara",
    "Umar", "Vera", "William", "Xenia", "Yusuf", "Zoë", "Sophie", "Lucas", "Emma", "Noah",
    "Mia", "Liam", "Amélie", "Jonas", "Sara", "Tom", "Inès", "Marco", "Olivia", "Jack",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Müller", "Schmidt", "Martin", "Bernard", "de Vries", "Jansen", "García", "López",
    "Rossi", "Russo", "Murphy", "Kelly", "Smith", "Jones", "Taylor", "Brown", "Johnson",
    "Williams", "Miller", "Davis", "Wagner", "Becker", "Dubois", "Moreau", "Bakker",
    "Visser", "Fernández", "Romano", "O'Brien", "Walsh", "Wilson", "Evans", "Moore",
    "Clark", "Lewis", "Hall", "Young", "King", "Wright", "Scott",
)  # fmt: skip
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "example.net", "mail.example")

# --- tickets ------------------------------------------------------------------

#: The contract's enums (shares and speeds below follow their order).
TICKET_CHANNELS: tuple[str, ...] = _TICKETS.column("channel").enum or ()
TICKET_CHANNEL_SHARE = (0.40, 0.22, 0.18, 0.14, 0.06)
#: Median minutes to first response per channel.
FIRST_RESPONSE_MEDIAN_MIN = np.array([240.0, 4.0, 2.0, 300.0, 90.0])
#: category, share, share in November-December, touchpoint by rule (None = no rule)
TICKET_CATEGORIES: tuple[tuple[str, float, float, str | None], ...] = (
    ("billing_question", 0.18, 0.14, "TP-14"),
    ("billing_plan_change", 0.06, 0.04, "TP-16"),
    ("delivery_late", 0.10, 0.22, "TP-06"),
    ("delivery_damaged", 0.04, 0.07, "TP-06"),
    ("technical_issue", 0.20, 0.16, "TP-10"),
    ("account_access", 0.12, 0.10, "TP-07"),
    ("cancellation", 0.05, 0.04, "TP-16"),
    ("product_question", 0.16, 0.15, None),
    ("other", 0.09, 0.08, None),
)
#: The support desk touchpoint of each ticket channel (index in TOUCHPOINTS).
SUPPORT_TP_OF_CHANNEL = np.array([SUPPORT_TP.get(ch, SUPPORT_TP_DEFAULT) for ch in TICKET_CHANNELS])
PRIORITIES: tuple[str, ...] = _TICKETS.column("priority").enum or ()
PRIORITY_SHARE = (0.20, 0.55, 0.20, 0.05)
N_AGENTS = 40

# --- web ---------------------------------------------------------------------

#: path, weight as landing page of a known customer, of an anonymous visitor
PAGES: tuple[tuple[str, float, float], ...] = (
    ("/", 0.12, 0.28),
    ("/products/fibre-500", 0.05, 0.09),
    ("/products/fibre-1000", 0.04, 0.07),
    ("/products/mobile-unlimited", 0.05, 0.08),
    ("/products/tv-bundle", 0.03, 0.05),
    ("/pricing", 0.06, 0.14),
    ("/help/reset-password", 0.04, 0.02),
    ("/help/setup-router", 0.05, 0.02),
    ("/help/roaming", 0.03, 0.02),
    ("/help/billing/understand-your-invoice", 0.03, 0.01),
    ("/help/billing/payment-methods", 0.02, 0.01),
    ("/account", 0.14, 0.0),
    ("/account/billing", 0.07, 0.0),
    ("/account/plan", 0.04, 0.0),
    ("/orders/track", 0.06, 0.0),
    ("/welcome", 0.02, 0.0),
    ("/blog/5-tips-faster-wifi", 0.04, 0.10),
    ("/blog/moving-house-checklist", 0.03, 0.08),
    ("/contact", 0.03, 0.03),
    ("/checkout", 0.01, 0.0),
    ("/cart", 0.04, 0.0),
)
PAGE_PATHS: tuple[str, ...] = tuple(p for p, _, _ in PAGES)
#: Landing pages from which a visit often turns into a cart.
SHOPPING_PAGES = frozenset(
    i for i, p in enumerate(PAGE_PATHS) if p.startswith(("/products", "/pricing", "/cart"))
)
