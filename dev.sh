#!/usr/bin/env bash
# One entry point for a fresh machine: creates .venv (Python >= 3.11) and
# installs the package with everything the demo and the tests need on first
# use (or when pyproject.toml changes), then runs the requested job.
#
#   ./dev.sh demo [ap-alerts demo options]   # the demo visit, in ./demo_repo of the checkout
#   ./dev.sh test [pytest options]           # the test suite
#   ./dev.sh bench [benchmark options]       # the throughput benchmark
#   ./dev.sh lint                            # ruff check, ruff format --check, license headers, sizes
#   ./dev.sh docs [sphinx-build options]     # the Sphinx site, into doc/_build/html (warnings are errors)
#   ./dev.sh setup                           # only the set-up
#
# AP_ALERTS_VENV picks the venv (default .venv); AP_ALERTS_EXTRA lists extra
# pip requirements installed into it first (.ci/run: the real lsst.afw wheel
# and its lsst-sphgeom pin, in .venv-afw); PYTHON the interpreter that
# creates it.  The venv is set up again when pyproject.toml changes or the
# extra requirements differ from those it was made with.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${AP_ALERTS_VENV:-$here/.venv}
python=${PYTHON:-python3}
extra=${AP_ALERTS_EXTRA:-}
marker="$venv/.ap_alerts_installed"

# Runs one set-up step with a progress line; its output goes to a log that
# is shown only when the step fails (pip and setuptools are chatty).
step() {
    local what=$1; shift
    echo "  $what ..." >&2
    if ! "$@" >>"$log" 2>&1; then
        cat "$log" >&2
        echo "Set-up failed while: $what (log: $log)" >&2
        exit 1
    fi
}

if [ ! -x "$venv/bin/python" ] || [ "$here/pyproject.toml" -nt "$marker" ] \
        || [ "$(cat "$marker" 2>/dev/null)" != "$extra" ]; then
    echo "Setting up $venv (first run: a few minutes) ..." >&2
    log=$(mktemp "${TMPDIR:-/tmp}/ap-alerts-setup.XXXXXX")
    step "creating the venv" "$python" -m venv "$venv"
    step "upgrading pip" "$venv/bin/python" -m pip install --upgrade pip
    if [ -n "$extra" ]; then
        # shellcheck disable=SC2086  # a list of requirements
        step "installing $extra" "$venv/bin/python" -m pip install $extra
    fi
    # compat editable mode: a plain path entry, which the lsst.* pkgutil
    # namespace packages handle like an eups PYTHONPATH.
    step "installing the package and its test dependencies (LSST middleware, Kafka brokers, ...)" \
        "$venv/bin/python" -m pip install -e "$here[test]" --config-settings editable_mode=compat
    printf '%s' "$extra" > "$marker"
    rm -f "$log"
    echo "Set-up done." >&2
fi

job=${1:-}
[ $# -gt 0 ] && shift
case "$job" in
    demo)
        # In the checkout (demo_repo/, git-ignored) whatever the caller's directory;
        # AP_ALERTS_DEMO_DIR or --workdir put it elsewhere.
        exec "$venv/bin/ap-alerts" demo --workdir "${AP_ALERTS_DEMO_DIR:-$here/demo_repo}" "$@" ;;
    test)
        cd "$here"
        set +e
        # The Kafka brokers are installed above: their tests must run, not skip.
        AP_ALERTS_REQUIRE_BROKERS=1 "$venv/bin/python" -m pytest -n 2 tests "$@"
        rc=$?
        set -e
        # pytest exits 5 when it collected nothing: that is a failure here.
        if [ "$rc" -eq 5 ]; then echo "No tests were collected." >&2; exit 1; fi
        exit "$rc" ;;
    lint)
        cd "$here"
        "$venv/bin/ruff" check python tests benchmarks .ci
        "$venv/bin/ruff" format --check python tests benchmarks .ci
        "$venv/bin/python" .ci/checkHeaders.py
        # No module over 1,000 lines, no function over 60 code lines (tests aside).
        exec "$venv/bin/python" .ci/checkSizes.py ;;
    docs)
        # Warnings (a broken docstring too) fail the build; --keep-going lists them all.
        # Built from scratch (-E, and automodapi's stub pages in doc/py-api made
        # anew): documenteer's task topics live in the saved environment, and
        # an incremental build would keep stale ones.
        cd "$here"
        rm -rf doc/py-api
        exec "$venv/bin/python" -m sphinx -W --keep-going -E -b html -d doc/_build/doctrees "$@" doc doc/_build/html ;;
    setup)
        exit 0 ;;
    bench)
        cd "$here"
        exec "$venv/bin/python" benchmarks/bench_packaging.py "$@" ;;
    *)
        echo "usage: $0 {demo|test|bench|lint|docs|setup} [options]" >&2
        exit 2 ;;
esac
