"""Fixtures for the integration tests (helpers live in harness.py).

The session fixture `instance` runs `tools/spate-dev up --name spt-it --workers 2`, parses its
key=value output, and always runs `down --purge` at the end (also when a test or the fixture
fails). Tests observe the appliance only from outside: traffic from inside the instance's
network namespace, and the dataplane's own counters through `spatectl --json status`.

Options:
  --instance NAME   use an instance that is already up (started with tools/spate-dev up) instead
                    of bringing spt-it up and down; handy while iterating on one test
  --endpoint URL    Kinesis API tests (test_api_*.py) only: drive this endpoint directly from the
                    pytest process (kinesalite on loopback, tools/kinesalite-run) instead of the
                    instance; spate_only tests skip, kinesalite_xfail tests become strict xfails
  --records N       records the bulk put/get test writes (default 100000)
Environment: SPATE_BUILD_DIR, SPATE_STATE_BASE, SPATE_RUN_BASE as for tools/spate-dev.
"""
import pytest

from harness import SESSION_NAME, SESSION_WORKERS, attach, instance_down, instance_up

# Kinesis API tests: fixtures kenv/streams, markers spate_only/kinesalite_xfail and their hooks.
pytest_plugins = ["kinesis_env"]


def pytest_addoption(parser):
    parser.addoption("--instance", default=None,
                     help="use this already-up spate-dev instance instead of bringing one up")
    parser.addoption("--endpoint", default=None,
                     help="Kinesis API tests: use this endpoint (e.g. kinesalite) directly")
    parser.addoption("--records", type=int, default=100000,
                     help="Kinesis API tests: records written by the bulk put/get test")


@pytest.fixture(scope="session")
def instance(request):
    name = request.config.getoption("--instance")
    if name:
        yield attach(name)
        return
    # a run that was killed may have left the reserved test instance behind
    instance_down(SESSION_NAME, purge=True)
    try:
        # The Kinesis bulk test puts ~250 MiB over 4 shards: 96 MiB shard rings hold it (each
        # with a 10 MiB storage write buffer), and 2.75 GiB of hugepages leave room for the
        # other tests' streams meanwhile.
        inst = instance_up(SESSION_NAME, SESSION_WORKERS, "--set", "test_services=true",
                           "--set", "shard_ring_mb=96", "--set", "mem_mb=2816",
                           "--set", "api_head_timeout_ms=3000")
        yield inst
    finally:
        instance_down(SESSION_NAME, purge=True)


@pytest.fixture
def fresh_name(request):
    """A second instance name for a test that brings its own instance up; always purged."""
    names = []

    def make(suffix):
        n = "spt-it%s" % suffix
        instance_down(n, purge=True)
        names.append(n)
        return n

    yield make
    for n in names:
        instance_down(n, purge=True)




# Modules that disturb the session instance (restart its dataplane or control) or bring others
# up run last, so a failure there cannot mask the basic tests. Everything else keeps file order.
LAST_MODULES = ("test_api_iterators.py", "test_control_restart.py", "test_instances.py")


def pytest_collection_modifyitems(session, config, items):
    def rank(item):
        base = item.fspath.basename
        return LAST_MODULES.index(base) + 1 if base in LAST_MODULES else 0

    items.sort(key=rank)  # stable: file and definition order kept within a rank
