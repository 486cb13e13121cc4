"""Launcher of the local AWS emulator: moto server with the lakeops extension in the same process.

moto (pinned in requirements-dev.txt: the extension patches moto's response classes, so the
version matters) speaks Glue, SNS, SQS, S3, Firehose, CloudWatch Logs and Lambda well. The
modules beside this file make it keep AWS's documented contract where moto does not, and let
tests drive it:

* ``faults.py``: fault injection for any service (``AmazonAthena.LakeopsInjectFaults``: kinds
  ``throttle``, ``error``, ``delay``, ``conflict``, ``unprocessed``) and call counts;
* ``athena.py``: the Athena model (seeded and started query executions, result rules, paged
  results, BatchGetQueryExecution, ListQueryExecutions, the ``Lakeops*`` actions);
* ``dynamodb.py``: item and transaction limits, injected transaction conflicts and unprocessed
  keys, 1 MB Query / Scan pages, item-level transaction backups;
* ``contract.py``: SQS, SNS and Firehose message and record limits;
* ``cloudwatch_cbor.py``: CloudWatch over the Smithy RPC v2 CBOR protocol the Rust SDK uses;
* ``logs_lambda.py``: CloudWatch Logs account subscription filter policies (``PutAccountPolicy``,
  ``DescribeAccountPolicies``, ``DeleteAccountPolicy``) and log group classes
  (``logGroupClass``; no subscription filter on Infrequent Access), Lambda ``LoggingConfig``
  and ``ListFunctions`` paging. Creating a Lambda function needs its role to exist in IAM first.

docs/emulator-contract.md lists every limit, its AWS source and the conformance test
(tests/emulator/test_contract.py) that holds it.

Run: ``python lakeops_moto.py --port 5055`` (binds 127.0.0.1). The process exits by itself when
its parent dies, so a killed test run leaves no emulator behind.
"""

import argparse
import os
import sys
import threading
import time

# Run as a script: the sibling modules are imported from this file's folder.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import athena  # noqa: E402
import cloudwatch_cbor  # noqa: E402
import contract  # noqa: E402
import dynamodb  # noqa: E402
import faults  # noqa: E402
import logs_lambda  # noqa: E402


def install():
    """Patches moto (in this process) with every part of the extension."""
    faults.install()
    athena.install()
    dynamodb.install()
    contract.install()
    cloudwatch_cbor.install()
    logs_lambda.install()


def _exit_with_parent():
    parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def main():
    parser = argparse.ArgumentParser(description="moto server with the lakeops extension")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    install()
    from moto import server

    sys.argv = [sys.argv[0], "-H", args.host, "-p", str(args.port)]
    server.main(["-H", args.host, "-p", str(args.port)])


if __name__ == "__main__":
    main()
