# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test lint format bench venv dev-venv migrate clean check-deploy web-assets

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed
dev-venv: $(VENV)/.installed-dev

# Web + Celery worker + Celery beat in one process group; one Ctrl-C stops all three.
run: venv
	@mkdir -p var
	@# Development VAPID key for WebPush (kept across runs: browsers subscribe to its public half).
	@if [ -z "$$BACKCARE_VAPID_PRIVATE_KEY" ]; then $(BIN)/python manage.py vapid_keys --ensure var/vapid_private.pem; fi
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_content
	$(BIN)/python manage.py load_protocol
	$(BIN)/python manage.py load_questionnaires
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "backcare is starting on http://127.0.0.1:$(PORT)/"
	@echo "  API docs:  http://127.0.0.1:$(PORT)/api/docs/"
	@echo "  health:    http://127.0.0.1:$(PORT)/healthz"
	@echo "  admin:     http://127.0.0.1:$(PORT)/admin/  (create a login: $(BIN)/python manage.py createsuperuser)"
	@echo "Press Ctrl-C once to stop web, worker and beat."
	@echo ""
	$(BIN)/honcho start -f Procfile

test: dev-venv
	$(BIN)/pytest

lint: dev-venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_SETTINGS_MODULE=backcare.settings.test $(BIN)/python manage.py makemigrations --check --dry-run
	@# The direction of imports: the contracts in pyproject.toml [tool.importlinter].
	$(BIN)/lint-imports --no-cache
	@# Security lint of the project code; each accepted finding is marked `# nosec Bxxx  # why` where it is.
	$(BIN)/bandit -q -c pyproject.toml -r backcare recovery content

format: dev-venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The web app's front-end libraries: install the versions package-lock.json pins and copy them to
# backcare/web/static/web/vendor/ (committed, so `make run` needs no Node). Needs Node and npm.
web-assets:
	npm ci --no-audit --no-fund
	$(PYTHON) backcare/web/vendor.py

bench: dev-venv
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

check-deploy: venv
	DJANGO_SETTINGS_MODULE=backcare.settings.production \
	DJANGO_SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))') \
	DJANGO_ALLOWED_HOSTS=backcare.example \
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/backcare \
	REDIS_URL=redis://127.0.0.1:6379/0 \
	BACKCARE_VAPID_PRIVATE_KEY=$$($(BIN)/python -c 'from backcare.push.vapid import generate_private_key, private_key_to_raw_b64; print(private_key_to_raw_b64(generate_private_key()))') \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var
