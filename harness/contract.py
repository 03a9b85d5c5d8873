"""The facts that the applications, the chart and every tier must agree on, and every budget
and figure of the specification: each once.

Ports, health paths, environment variable names and the rule that says which names are
sensitive; the resource, size and time budgets the tiers assert (SC-…). The chart cannot import
Python, so the static tier checks the rendered chart against these values, and the
applications' own tests check their configuration classes against them.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

# --- ports -----------------------------------------------------------------
BACKEND_PORT = 8000
FRONTEND_PORT = 3000

# --- health endpoints --------------------------------------------------------
# Liveness answers from the process alone; readiness also checks the database.
BACKEND_LIVENESS_PATH = "/healthz"
BACKEND_READINESS_PATH = "/readyz"
# The frontend answers from the Next.js process alone: a backend outage must
# not restart the frontend, so liveness and readiness share one path.
FRONTEND_HEALTH_PATH = "/api/healthz"

# --- environment -------------------------------------------------------------
BACKEND_REQUIRED_ENV = ("DATABASE_URL", "JWT_SECRET")
BACKEND_OPTIONAL_ENV = (
    "PORT",
    "LOG_LEVEL",
    "CORS_ORIGINS",
    "CHAT_PROVIDER",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "DB_POOL_SIZE",
    "DB_MAX_OVERFLOW",
    "CHAT_DEADLINE_SECONDS",
    "MIGRATION_LOCK_TIMEOUT_SECONDS",
    "OPENAI_ALLOW_HTTP",
    "PROXY_TOKEN",
    "API_DOCS",
    "TASKS_PER_USER",
    "TASKS_CREATED_PER_MINUTE",
    "CHAT_TURNS_PER_MINUTE",
)
FRONTEND_REQUIRED_ENV = ("BACKEND_URL",)
FRONTEND_OPTIONAL_ENV = ("PORT", "LOG_LEVEL", "SESSION_COOKIE_SECURE", "HSTS_MAX_AGE", "PROXY_TOKEN",
                         "TRUSTED_PROXY_HOPS")

# Names whose values are credentials. They reach containers only through a
# Secret (secretKeyRef); a ConfigMap or a literal value for them is a defect.
SENSITIVE_NAMES = frozenset({"DATABASE_URL", "JWT_SECRET", "OPENAI_API_KEY", "PROXY_TOKEN"})
SENSITIVE_PATTERNS = (
    "*PASSWORD*",
    "*PASSWD*",
    "*SECRET*",
    "*_KEY",
    "*TOKEN*",
    "*CREDENTIAL*",
    "DATABASE_URL",
)

# The minimum length of JWT_SECRET (HS256 wants at least the hash size).
JWT_SECRET_MIN_BYTES = 32

# --- resource budget (SC-010) ------------------------------------------------
BUDGET_MEMORY_BYTES = 2 * 1024**3
BUDGET_CPU_CORES = 2.0

# --- load (SC-004, SC-010): the gate of a load run -----------------------------
LOAD_USERS = 100
LOAD_P95_MS = 1000.0  # a signed-in user's requests
LOAD_SIGNUP_P95_MS = 5000.0  # register + log in, once per user (argon2 by design)

# --- time budgets ------------------------------------------------------------------
DEPLOY_BUDGET_S = 300  # SC-001, FR-037: images into the cluster and helm install, until every pod Ready
IMAGE_COLD_BUILD_BUDGET_S = 180  # SC-002: one image built from nothing
READY_BUDGET_S = 120  # SC-003, US1-1: helm install until every pod Ready
CONFIG_CHANGE_BUDGET_S = 60  # SC-005: a ConfigMap/Secret change live after the restart

# --- image size budgets (US2-1, US2-2) -----------------------------------------
BACKEND_IMAGE_MAX_BYTES = 500 * 1000**2
FRONTEND_IMAGE_MAX_BYTES = 300 * 1000**2

# Non-root user the images run as (FR-008); the chart's securityContext agrees.
APP_UID = 10001
APP_GID = 10001


def is_sensitive(name: str) -> bool:
    """True when an environment variable or Secret key holds a credential."""
    upper = name.upper()
    return upper in SENSITIVE_NAMES or any(fnmatchcase(upper, p) for p in SENSITIVE_PATTERNS)

# --- images -------------------------------------------------------------------
# Local image names; the tag defaults to the chart's appVersion (make images).
BACKEND_IMAGE = "todo-backend"
FRONTEND_IMAGE = "todo-frontend"
# Paths the applications write at run time. The images keep everything else
# read-only; the chart mounts an emptyDir at each (readOnlyRootFilesystem).
BACKEND_WRITABLE_PATHS = ("/tmp",)
FRONTEND_WRITABLE_PATHS = ("/tmp", "/app/.next/cache")
