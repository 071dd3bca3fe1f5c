"""Settings for the Django project used by gowsgi's framework tests."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# Tests point this at a fresh database in a temporary directory.
DATABASE_PATH = os.environ.get("GOWSGI_TEST_DJANGO_DB", str(BASE_DIR / "db.sqlite3"))

# A fixed key is fine: this project only ever runs in tests.
SECRET_KEY = "gowsgi-test-only-not-secret"

DEBUG = False

# The trusted-proxy test turns this on: Django then redirects every request
# that is not secure (wsgi.url_scheme "https") to https.
SECURE_SSL_REDIRECT = os.environ.get("GOWSGI_TEST_DJANGO_SSL_REDIRECT") == "1"

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "testsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "testsite.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATABASE_PATH,
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_L10N = True
USE_TZ = True

STATIC_URL = "/static/"

# Uploads up to this size stay in memory; larger ones go to a temporary
# file, so the upload test covers both handlers.
FILE_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

# The chunked-upload test sends bodies of several MiB to a view that reads
# request.body, which Django otherwise refuses above 2.5 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024

# Errors go to stderr, which gowsgi writes to its error log.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django": {"handlers": ["console"], "level": "WARNING"}},
}
