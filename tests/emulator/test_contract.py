"""Conformance of the local AWS emulator to AWS's documented limits (docs/emulator-contract.md).

Each test starts from the table's row it names: the limit is accepted at the limit and refused
one past it, with AWS's error code; paging returns every row or item exactly once; injected
faults have AWS's shape; the fault kinds the Rust end-to-end tests use still work. The emulator
runs as the harness runs it: ``python tests/emulator/lakeops_moto.py --port N`` on 127.0.0.1.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lakeops_moto.py")
REGION = "us-east-1"
KIB = 1024
MIB = 1024 * 1024


# --- the emulator and its clients ----------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def endpoint():
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix=f"lakeops-moto-{port}-", suffix=".log", delete=False)
    proc = subprocess.Popen([sys.executable, LAUNCHER, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"the emulator did not start; see {log.name}")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def _post(endpoint, target, content_type, service, body):
    """A raw JSON-protocol call: the answer's status, headers and decoded body."""
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(body).encode(),
        headers={
            "X-Amz-Target": target,
            "Content-Type": content_type,
            "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


@pytest.fixture
def extension(endpoint):
    """Calls one of the extension's ``AmazonAthena.Lakeops*`` actions, as the Rust harness does."""

    def call(action, body=None):
        return _post(endpoint, f"AmazonAthena.{action}", "application/x-amz-json-1.1", "athena", body or {})

    return call


@pytest.fixture(autouse=True)
def fresh(endpoint, extension):
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    extension("LakeopsClearFaults")
    yield


@pytest.fixture
def aws(endpoint):
    """boto3 clients without retries and without client-side validation: the emulator decides."""
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, parameter_validation=False)

    def client(service):
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=config,
        )

    return client


def _error(call, *args, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    return caught.value.response


def _code(call, *args, **kwargs):
    return _error(call, *args, **kwargs)["Error"]["Code"]


# --- Athena ----------------------------------------------------------------------------------------


def _finished_query(aws, extension, sql, columns, rows):
    extension("LakeopsSeedQueryResults", {"Rules": [{"SqlContains": sql, "Columns": columns, "Rows": rows}]})
    athena = aws("athena")
    qid = athena.start_query_execution(QueryString=sql)["QueryExecutionId"]
    assert athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"] == "SUCCEEDED"
    return athena, qid


def _all_pages(athena, qid, **kwargs):
    pages, token = [], None
    while True:
        out = athena.get_query_results(QueryExecutionId=qid, **({"NextToken": token} if token else {}), **kwargs)
        pages.append([[d.get("VarCharValue") for d in r["Data"]] for r in out["ResultSet"]["Rows"]])
        token = out.get("NextToken")
        if not token:
            return pages


def test_athena_get_query_results_pages_with_the_header_first_on_the_first_page_only(aws, extension):
    rows = [[str(i), f"v{i}"] for i in range(2500)]
    athena, qid = _finished_query(aws, extension, "SELECT n, v FROM lake.paged", ["n", "v"], rows)
    pages = _all_pages(athena, qid)  # no MaxResults: pages of 1,000
    assert [len(p) for p in pages] == [1000, 1000, 501]
    assert pages[0][0] == ["n", "v"]
    assert [r for p in pages for r in p][1:] == rows, "every row exactly once, in order, header only once"
    small = _all_pages(athena, qid, MaxResults=97)
    assert all(len(p) == 97 for p in small[:-1]) and small[0][0] == ["n", "v"]
    assert [r for p in small for r in p][1:] == rows


def test_athena_get_query_results_max_results_is_1_to_1000(aws, extension):
    athena, qid = _finished_query(aws, extension, "SELECT 1 FROM lake.one", ["_col0"], [["1"]])
    for bad in (0, 1001):
        assert _code(athena.get_query_results, QueryExecutionId=qid, MaxResults=bad) == "InvalidRequestException"
    assert len(athena.get_query_results(QueryExecutionId=qid, MaxResults=1)["ResultSet"]["Rows"]) == 1
    assert len(athena.get_query_results(QueryExecutionId=qid, MaxResults=1000)["ResultSet"]["Rows"]) == 2
    other, other_qid = _finished_query(aws, extension, "SELECT 2 FROM lake.two", ["_col0"], [["2"], ["3"]])
    token = other.get_query_results(QueryExecutionId=other_qid, MaxResults=1)["NextToken"]
    assert _code(athena.get_query_results, QueryExecutionId=qid, NextToken=token) == "InvalidRequestException"


def test_athena_ddl_results_have_no_header_row(aws, extension):
    athena, qid = _finished_query(aws, extension, "SHOW TABLES IN lake", ["tab_name"], [["a"], ["b"]])
    assert _all_pages(athena, qid) == [[["a"], ["b"]]]


def test_athena_list_query_executions_pages_at_most_50(aws, extension):
    now = time.time()
    seeded = [{"QueryExecutionId": f"q-{i:03}", "WorkGroup": "primary", "SubmissionDateTime": now - i} for i in range(120)]
    extension("LakeopsSeedQueryExecutions", {"QueryExecutions": seeded})
    athena = aws("athena")
    assert _code(athena.list_query_executions, MaxResults=51) == "InvalidRequestException"
    seen, token, sizes = [], None, []
    while True:
        out = athena.list_query_executions(MaxResults=50, **({"NextToken": token} if token else {}))
        sizes.append(len(out["QueryExecutionIds"]))
        seen += out["QueryExecutionIds"]
        token = out.get("NextToken")
        if not token:
            break
    assert sizes == [50, 50, 20]
    assert seen == [q["QueryExecutionId"] for q in seeded], "newest first, each exactly once"
    assert len(athena.list_query_executions()["QueryExecutionIds"]) == 50, "default page"


def test_athena_stop_is_asynchronous_when_the_query_says_so(aws, extension):
    now = time.time()
    extension("LakeopsSeedQueryExecutions", {"QueryExecutions": [
        {"QueryExecutionId": "slow-stop", "State": "RUNNING", "SubmissionDateTime": now - 60, "StopTakesSeconds": 0.5},
        {"QueryExecutionId": "quick-stop", "State": "RUNNING", "SubmissionDateTime": now - 60},
    ]})
    athena = aws("athena")

    def state(qid):
        return athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"]

    athena.stop_query_execution(QueryExecutionId="slow-stop")
    athena.stop_query_execution(QueryExecutionId="quick-stop")
    assert (state("slow-stop"), state("quick-stop")) == ("RUNNING", "CANCELLED")
    time.sleep(0.6)
    assert state("slow-stop") == "CANCELLED"


def test_athena_batch_get_query_execution_takes_1_to_50_ids(aws, extension):
    extension("LakeopsSeedQueryExecutions", {"QueryExecutions": [{"QueryExecutionId": f"b-{i}"} for i in range(49)]})
    athena = aws("athena")
    assert _code(athena.batch_get_query_execution, QueryExecutionIds=[]) == "InvalidRequestException"
    ids = [f"b-{i}" for i in range(50)]  # b-49 is not known
    assert _code(athena.batch_get_query_execution, QueryExecutionIds=ids + ["b-50"]) == "InvalidRequestException"
    out = athena.batch_get_query_execution(QueryExecutionIds=ids)
    assert len(out["QueryExecutions"]) == 49
    assert [u["QueryExecutionId"] for u in out["UnprocessedQueryExecutionIds"]] == ["b-49"]


# --- DynamoDB --------------------------------------------------------------------------------------


def _table(aws, name="t", range_key=False):
    ddb = aws("dynamodb")
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}] + ([{"AttributeName": "sk", "KeyType": "RANGE"}] if range_key else [])
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}] + ([{"AttributeName": "sk", "AttributeType": "S"}] if range_key else [])
    ddb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=attrs, BillingMode="PAY_PER_REQUEST")
    return ddb


def _count(ddb, table="t"):
    """Items in a table, over every 1 MB page of a COUNT scan."""
    total, start = 0, None
    while True:
        out = ddb.scan(TableName=table, Select="COUNT", **({"ExclusiveStartKey": start} if start else {}))
        total += out["Count"]
        start = out.get("LastEvaluatedKey")
        if not start:
            return total


def _sized_item(pk, size, **extra):
    """An item of exactly ``size`` bytes by DynamoDB's rules (names and UTF-8 string values)."""
    item = {"pk": {"S": pk}, **{k: {"S": v} for k, v in extra.items()}}
    used = sum(len(k) + len(v["S"].encode()) for k, v in item.items())
    item["data"] = {"S": "x" * (size - used - len("data"))}
    return item


def test_dynamodb_item_is_at_most_400_kb(aws):
    ddb = _table(aws)
    ddb.put_item(TableName="t", Item=_sized_item("max", 400 * KIB))
    assert _code(ddb.put_item, TableName="t", Item=_sized_item("over", 400 * KIB + 1)) == "ValidationException"
    assert "Item" in ddb.get_item(TableName="t", Key={"pk": {"S": "max"}})
    assert "Item" not in ddb.get_item(TableName="t", Key={"pk": {"S": "over"}})


def test_dynamodb_conditional_writes_are_atomic_under_concurrency(aws):
    """DynamoDB applies a conditional write atomically: of several concurrent writers that each
    expect the item as it was, exactly one wins (the Athena call budget's token bucket relies on
    it). moto's threaded server checked and wrote in two steps, so two could both pass."""
    import threading

    ddb = _table(aws)
    for round_ in range(15):
        key = {"pk": {"S": f"bucket{round_}"}}
        ddb.put_item(TableName="t", Item={**key, "counted": {"N": "0"}})
        wins = []
        barrier = threading.Barrier(8)

        def take(n):
            barrier.wait()
            try:
                ddb.update_item(
                    TableName="t",
                    Key=key,
                    UpdateExpression="SET counted = :new",
                    ConditionExpression="counted = :old",
                    ExpressionAttributeValues={":old": {"N": "0"}, ":new": {"N": str(n + 1)}},
                )
                wins.append(n)
            except ClientError as e:
                assert e.response["Error"]["Code"] == "ConditionalCheckFailedException"

        threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1, f"round {round_}: {len(wins)} writers passed one condition"


def test_dynamodb_transact_write_items_takes_at_most_100_actions(aws):
    ddb = _table(aws)
    puts = [{"Put": {"TableName": "t", "Item": {"pk": {"S": f"a{i}"}}}} for i in range(101)]
    assert _code(ddb.transact_write_items, TransactItems=puts) == "ValidationException"
    ddb.transact_write_items(TransactItems=puts[:100])
    assert _count(ddb) == 100


def test_dynamodb_transact_write_items_is_at_most_4_mb(aws):
    ddb = _table(aws)
    sizes = [400 * KIB] * 10 + [4 * MIB - 10 * 400 * KIB]

    def puts(extra):
        items = [_sized_item(f"big{i}", s + (extra if i == 10 else 0)) for i, s in enumerate(sizes)]
        return [{"Put": {"TableName": "t", "Item": item}} for item in items]

    assert _code(ddb.transact_write_items, TransactItems=puts(1)) == "ValidationException"
    assert _count(ddb) == 0
    ddb.transact_write_items(TransactItems=puts(0))
    assert _count(ddb) == 11


def test_dynamodb_conflict_fault_has_aws_shape(aws, extension, endpoint):
    _table(aws)
    extension("LakeopsInjectFaults", {"Faults": [{"Service": "dynamodb", "Action": "TransactWriteItems", "Kind": "conflict"}]})
    body = {"TransactItems": [{"Put": {"TableName": "t", "Item": {"pk": {"S": k}}}} for k in ("a", "b")]}
    status, _, answer = _post(endpoint, "DynamoDB_20120810.TransactWriteItems", "application/x-amz-json-1.0", "dynamodb", body)
    assert status == 400
    assert answer == {
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]",
        "CancellationReasons": [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}, {"Code": "None"}],
    }
    ddb = aws("dynamodb")
    assert _count(ddb) == 0, "a cancelled transaction writes nothing"
    ddb.transact_write_items(TransactItems=body["TransactItems"])  # the fault is spent
    assert extension("LakeopsInjectedFaults")[2]["Faults"][0]["Injected"] == 1


def test_dynamodb_conflict_fault_by_key_prefix_and_fraction(aws, extension):
    ddb = _table(aws)
    extension("LakeopsInjectFaults", {"Faults": [{"Service": "dynamodb", "Action": "TransactWriteItems", "Kind": "conflict", "KeyPrefix": "hot#", "Count": 2}]})

    def put(*keys):
        return [{"Put": {"TableName": "t", "Item": {"pk": {"S": k}}}} for k in keys]

    ddb.transact_write_items(TransactItems=put("cold#1", "cold#2"))  # not eligible, not spent
    error = _error(ddb.transact_write_items, TransactItems=put("cold#3", "hot#1", "cold#4"))
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None", "TransactionConflict", "None"]
    assert error["Error"]["Message"].endswith("[None, TransactionConflict, None]")
    _error(ddb.transact_write_items, TransactItems=put("hot#2"))
    ddb.transact_write_items(TransactItems=put("hot#3"))  # Count 2 spent

    extension("LakeopsClearFaults")
    extension("LakeopsInjectFaults", {"Faults": [{"Service": "dynamodb", "Action": "TransactWriteItems", "Kind": "conflict", "Fraction": 0.5, "Seed": 7}]})
    conflicts = 0
    for i in range(40):
        try:
            ddb.transact_write_items(TransactItems=put(f"f{i}"))
        except ClientError as error:
            assert error.response["CancellationReasons"] == [{"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}]
            conflicts += 1
    assert 5 <= conflicts <= 35
    assert extension("LakeopsInjectedFaults")[2]["Faults"][0]["Injected"] == conflicts


def test_dynamodb_transaction_rolls_back_the_items_it_named(aws):
    ddb = _table(aws)
    ddb.put_item(TableName="t", Item={"pk": {"S": "kept"}, "v": {"N": "1"}})
    items = [
        {"Update": {"TableName": "t", "Key": {"pk": {"S": "kept"}}, "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"N": "2"}}}},
        {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}}, "ConditionExpression": "attribute_exists(pk)"}},
    ]
    error = _error(ddb.transact_write_items, TransactItems=items)
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert ddb.get_item(TableName="t", Key={"pk": {"S": "kept"}})["Item"]["v"] == {"N": "1"}


def test_dynamodb_batch_get_item_takes_at_most_100_keys(aws):
    ddb = _table(aws)
    keys = [{"pk": {"S": f"k{i}"}} for i in range(101)]
    assert _code(ddb.batch_get_item, RequestItems={"t": {"Keys": keys}}) == "ValidationException"
    out = ddb.batch_get_item(RequestItems={"t": {"Keys": keys[:100]}})
    assert out["Responses"]["t"] == [] and not out["UnprocessedKeys"]


def test_dynamodb_batch_get_item_answers_at_most_16_mb(aws):
    ddb = _table(aws)
    for i in range(41):  # 40 items of 400 KB fit 16 MB; the 41st does not
        ddb.put_item(TableName="t", Item=_sized_item(f"k{i:02}", 400 * KIB))
    keys = [{"pk": {"S": f"k{i:02}"}} for i in range(41)]
    out = ddb.batch_get_item(RequestItems={"t": {"Keys": keys[:40], "ConsistentRead": True}})
    assert len(out["Responses"]["t"]) == 40 and not out["UnprocessedKeys"]
    out = ddb.batch_get_item(RequestItems={"t": {"Keys": keys, "ConsistentRead": True}})
    assert len(out["Responses"]["t"]) == 40
    assert out["UnprocessedKeys"] == {"t": {"Keys": [keys[40]], "ConsistentRead": True}}


def test_dynamodb_unprocessed_fault_has_aws_shape_and_retries_get_the_rest(aws, extension):
    ddb = _table(aws)
    for i in range(10):
        ddb.put_item(TableName="t", Item={"pk": {"S": f"k{i}"}, "v": {"N": str(i)}, "other": {"S": "x"}})
    extension("LakeopsInjectFaults", {"Faults": [{"Service": "dynamodb", "Action": "BatchGetItem", "Kind": "unprocessed"}]})
    request = {
        "Keys": [{"pk": {"S": f"k{i}"}} for i in range(10)],
        "ProjectionExpression": "#p, v",
        "ExpressionAttributeNames": {"#p": "pk"},
        "ConsistentRead": True,
    }
    out = ddb.batch_get_item(RequestItems={"t": request})
    unprocessed = out["UnprocessedKeys"]["t"]
    assert len(out["Responses"]["t"]) == 5 and len(unprocessed["Keys"]) == 5
    assert {k: v for k, v in unprocessed.items() if k != "Keys"} == {k: v for k, v in request.items() if k != "Keys"}
    assert all(set(item) == {"pk", "v"} for item in out["Responses"]["t"]), "the projection applies"
    again = ddb.batch_get_item(RequestItems=out["UnprocessedKeys"])  # the fault is spent
    assert not again["UnprocessedKeys"]
    got = [i["pk"]["S"] for i in out["Responses"]["t"] + again["Responses"]["t"]]
    assert sorted(got) == sorted(f"k{i}" for i in range(10)), "every key exactly once"

    extension("LakeopsInjectFaults", {"Faults": [{"Service": "dynamodb", "Action": "BatchGetItem", "Kind": "unprocessed", "KeyPrefix": "k7"}]})
    out = ddb.batch_get_item(RequestItems={"t": {"Keys": [{"pk": {"S": "k6"}}, {"pk": {"S": "k7"}}]}})
    assert out["UnprocessedKeys"] == {"t": {"Keys": [{"pk": {"S": "k7"}}]}}
    assert [i["pk"]["S"] for i in out["Responses"]["t"]] == ["k6"]


@pytest.mark.parametrize("operation", ["query", "scan"])
def test_dynamodb_query_and_scan_pages_are_at_most_1_mb(aws, operation):
    ddb = _table(aws, range_key=True)
    for i in range(4):  # exactly 1 MiB of items
        ddb.put_item(TableName="t", Item=_sized_item("p", 256 * KIB, sk=f"s{i}"))

    def pages():
        found, start = [], None
        while True:
            kwargs = {"TableName": "t", **({"ExclusiveStartKey": start} if start else {})}
            if operation == "query":
                kwargs.update(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}})
            out = getattr(ddb, operation)(**kwargs)
            found.append([i["sk"]["S"] for i in out["Items"]])
            start = out.get("LastEvaluatedKey")
            if not start:
                return found

    assert pages() == [["s0", "s1", "s2", "s3"]], "1 MiB fits one page"
    ddb.put_item(TableName="t", Item={"pk": {"S": "p"}, "sk": {"S": "s4"}})
    found = pages()
    assert [len(p) for p in found] == [4, 1], "one byte more starts a second page"
    assert sorted(sk for p in found for sk in p) == [f"s{i}" for i in range(5)]


# --- SQS, SNS, Firehose --------------------------------------------------------------------------


def test_sqs_message_is_at_most_the_queue_limit_counting_bytes_and_attributes(aws):
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]  # MaximumMessageSize defaults to 1 MiB
    sqs.send_message(QueueUrl=url, MessageBody="x" * MIB)
    assert _code(sqs.send_message, QueueUrl=url, MessageBody="x" * (MIB + 1)) == "InvalidParameterValue"
    assert _code(sqs.send_message, QueueUrl=url, MessageBody="é" * (MIB // 2) + "x") == "InvalidParameterValue"
    small = sqs.create_queue(QueueName="q256", Attributes={"MaximumMessageSize": str(256 * KIB)})["QueueUrl"]
    attributes = {"kind": {"DataType": "String", "StringValue": "alert"}}  # 4 + 6 + 5 bytes
    sqs.send_message(QueueUrl=small, MessageBody="x" * (256 * KIB - 15), MessageAttributes=attributes)
    error = _code(sqs.send_message, QueueUrl=small, MessageBody="x" * (256 * KIB - 14), MessageAttributes=attributes)
    assert error == "InvalidParameterValue"


def test_sqs_batch_is_at_most_10_entries_and_1_mib(aws):
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]

    def entries(n, size, extra=0):
        return [{"Id": f"e{i}", "MessageBody": "x" * (size + (extra if i == 0 else 0))} for i in range(n)]

    # SQS answers in JSON with its query-protocol error codes (awsQueryCompatible), as boto3 sees them.
    too_many = "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    assert _code(sqs.send_message_batch, QueueUrl=url, Entries=entries(11, 10)) == too_many
    assert len(sqs.send_message_batch(QueueUrl=url, Entries=entries(10, 10))["Successful"]) == 10
    assert len(sqs.send_message_batch(QueueUrl=url, Entries=entries(4, 256 * KIB))["Successful"]) == 4
    assert _code(sqs.send_message_batch, QueueUrl=url, Entries=entries(4, 256 * KIB, 1)) == "AWS.SimpleQueueService.BatchRequestTooLong"


def test_sns_publish_is_at_most_256_kib_including_attributes(aws):
    sns = aws("sns")
    arn = sns.create_topic(Name="alerts")["TopicArn"]
    attributes = {"kind": {"DataType": "String", "StringValue": "alert"}}  # 4 + 6 + 5 bytes
    sns.publish(TopicArn=arn, Message="x" * (256 * KIB - 15), MessageAttributes=attributes)
    error = _code(sns.publish, TopicArn=arn, Message="x" * (256 * KIB - 14), MessageAttributes=attributes)
    assert error == "InvalidParameter"
    assert _code(sns.publish, TopicArn=arn, Message="é" * (128 * KIB) + "x") == "InvalidParameter"
    large = sns.create_topic(Name="large", Attributes={"MaximumMessageSize": str(MIB)})["TopicArn"]
    sns.publish(TopicArn=large, Message="x" * MIB)
    assert _code(sns.publish, TopicArn=large, Message="x" * (MIB + 1)) == "InvalidParameter"


def test_firehose_put_record_batch_limits(aws):
    aws("s3").create_bucket(Bucket="sink")
    firehose = aws("firehose")
    firehose.create_delivery_stream(
        DeliveryStreamName="logs",
        ExtendedS3DestinationConfiguration={"RoleARN": "arn:aws:iam::123456789012:role/f", "BucketARN": "arn:aws:s3:::sink"},
    )

    def put(records):
        return firehose.put_record_batch(DeliveryStreamName="logs", Records=[{"Data": d} for d in records])

    assert put([b"x"] * 500)["FailedPutCount"] == 0
    assert _code(put, [b"x"] * 501) == "ValidationException"
    assert put([b"x" * 1000 * KIB])["FailedPutCount"] == 0
    assert _code(put, [b"x" * (1000 * KIB + 1)]) == "ValidationException"
    four_mib = [b"x" * 1000 * KIB] * 4 + [b"x" * (4 * MIB - 4000 * KIB)]
    assert put(four_mib)["FailedPutCount"] == 0
    assert _code(put, four_mib[:-1] + [four_mib[-1] + b"x"]) == "InvalidArgumentException"
    assert _code(firehose.put_record, DeliveryStreamName="logs", Record={"Data": b"x" * (1000 * KIB + 1)}) == "ValidationException"


# --- CloudWatch Logs and Lambda: what the blind-spot audit reads ---------------------------------

SUBSCRIPTION_POLICY = "SUBSCRIPTION_FILTER_POLICY"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"


def _policy_document(destination=f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/audit", **extra):
    document = {"DestinationArn": destination, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/cwl", "FilterPattern": "", **extra}
    return json.dumps(document)


def _account_policies(logs, **kwargs):
    return logs.describe_account_policies(policyType=SUBSCRIPTION_POLICY, **kwargs)["accountPolicies"]


def test_logs_account_subscription_policy_has_aws_shape_and_one_per_region(aws):
    logs = aws("logs")
    criteria = 'LogGroupName NOT IN ["a", "b"]'
    document = _policy_document(Distribution="Random")
    before = int(time.time() * 1000)
    put = logs.put_account_policy(
        policyName="audit", policyDocument=document, policyType=SUBSCRIPTION_POLICY, scope="ALL", selectionCriteria=criteria
    )["accountPolicy"]
    assert {k: v for k, v in put.items() if k != "lastUpdatedTime"} == {
        "policyName": "audit", "policyDocument": document, "policyType": SUBSCRIPTION_POLICY, "scope": "ALL",
        "selectionCriteria": criteria, "accountId": ACCOUNT,
    }
    assert before <= put["lastUpdatedTime"] <= int(time.time() * 1000), "epoch milliseconds"
    assert _account_policies(logs) == [put]
    logs.put_account_policy(policyName="audit", policyDocument=_policy_document(), policyType=SUBSCRIPTION_POLICY)
    [updated] = _account_policies(logs)  # the same name updates the one policy; scope defaults to ALL
    assert updated["scope"] == "ALL" and "selectionCriteria" not in updated and updated["policyDocument"] == _policy_document()
    second = {"policyName": "second", "policyDocument": _policy_document(), "policyType": SUBSCRIPTION_POLICY}
    assert _code(logs.put_account_policy, **second) == "LimitExceededException"
    assert _account_policies(logs, policyName="second") == []
    assert [p["policyName"] for p in _account_policies(logs, policyName="audit")] == ["audit"]
    assert logs.describe_account_policies(policyType="DATA_PROTECTION_POLICY")["accountPolicies"] == []
    assert _code(logs.delete_account_policy, policyName="second", policyType=SUBSCRIPTION_POLICY) == "ResourceNotFoundException"
    logs.delete_account_policy(policyName="audit", policyType=SUBSCRIPTION_POLICY)
    assert _account_policies(logs) == []
    logs.put_account_policy(**second)  # the Region's one slot is free again


def test_logs_account_policy_selection_criteria_is_at_most_25_kb_and_the_request_is_checked(aws):
    logs = aws("logs")

    def put(**kwargs):
        request = {"policyName": "p", "policyDocument": _policy_document(), "policyType": SUBSCRIPTION_POLICY, **kwargs}
        return logs.put_account_policy(**request)

    def criteria(size):
        head, tail = 'LogGroupName NOT IN ["', '"]'
        return head + "g" * (size - len(head) - len(tail)) + tail

    put(selectionCriteria=criteria(25_000))
    assert _code(put, selectionCriteria=criteria(25_001)) == "InvalidParameterException"
    put(selectionCriteria="LogGroupName NOT IN [" + ", ".join(f'"/aws/lambda/f{i}"' for i in range(500)) + "]")
    put(selectionCriteria="LogGroupName NOT IN []")
    for bad in ('LogGroupNamePrefix NOT IN ["a"]', 'LogGroupName IN ["a"]', 'LogGroupName NOT IN "a"', "LogGroupName NOT IN [a]"):
        assert _code(put, selectionCriteria=bad) == "InvalidParameterException", bad
    padding = 30_720 - len(_policy_document())
    put(policyDocument=_policy_document(FilterPattern="x" * padding))  # 30,720 characters
    assert _code(put, policyDocument=_policy_document(FilterPattern="x" * (padding + 1))) == "InvalidParameterException"
    for bad in (
        {"scope": "SOME"},
        {"policyName": "aws/p"},
        {"policyType": "NOT_A_TYPE"},
        {"policyDocument": "not json"},
        {"policyDocument": json.dumps({"FilterPattern": ""})},
        {"policyDocument": _policy_document(Distribution="Everywhere")},
    ):
        assert _code(put, **bad) == "InvalidParameterException", bad
    assert _code(logs.describe_account_policies) == "InvalidParameterException", "policyType is required"


def test_logs_log_group_class_is_standard_by_default_and_described(aws):
    logs = aws("logs")
    logs.create_log_group(logGroupName="default")
    for group_class in ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY"):
        logs.create_log_group(logGroupName=group_class.lower(), logGroupClass=group_class)
    assert _code(logs.create_log_group, logGroupName="cold", logGroupClass="COLD") == "InvalidParameterException"
    described = {g["logGroupName"]: g["logGroupClass"] for g in logs.describe_log_groups()["logGroups"]}
    assert described == {"default": "STANDARD", "standard": "STANDARD", "infrequent_access": "INFREQUENT_ACCESS", "delivery": "DELIVERY"}
    infrequent = logs.describe_log_groups(logGroupClass="INFREQUENT_ACCESS")["logGroups"]
    assert [g["logGroupName"] for g in infrequent] == ["infrequent_access"]


def test_logs_subscription_filters_two_per_group_and_none_on_infrequent_access(aws):
    kinesis = aws("kinesis")
    kinesis.create_stream(StreamName="audit", ShardCount=1)
    stream = kinesis.describe_stream_summary(StreamName="audit")["StreamDescriptionSummary"]["StreamARN"]
    logs = aws("logs")
    logs.create_log_group(logGroupName="std")
    logs.create_log_group(logGroupName="ia", logGroupClass="INFREQUENT_ACCESS")

    def subscribe(group, name, pattern=""):
        return logs.put_subscription_filter(
            logGroupName=group, filterName=name, filterPattern=pattern, destinationArn=stream,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/cwl",
        )

    assert _code(subscribe, "ia", "f1") == "InvalidParameterException"
    assert logs.describe_subscription_filters(logGroupName="ia")["subscriptionFilters"] == []
    subscribe("std", "f1")
    subscribe("std", "f2")
    assert _code(subscribe, "std", "f3") == "LimitExceededException"
    subscribe("std", "f2", "ERROR")  # naming one of the two updates it
    filters = logs.describe_subscription_filters(logGroupName="std")["subscriptionFilters"]
    assert {f["filterName"]: f["filterPattern"] for f in filters} == {"f1": "", "f2": "ERROR"}


def test_logs_describe_log_groups_limit_is_1_to_50_and_pages_each_group_once(aws):
    logs = aws("logs")
    names = [f"/lakeops/g{i:03}" for i in range(120)]
    for name in names:
        logs.create_log_group(logGroupName=name)
    for bad in (0, 51):
        assert _code(logs.describe_log_groups, limit=bad) == "InvalidParameterException"
    seen, sizes, token = [], [], None
    while True:
        out = logs.describe_log_groups(limit=50, **({"nextToken": token} if token else {}))
        sizes.append(len(out["logGroups"]))
        seen += [g["logGroupName"] for g in out["logGroups"]]
        token = out.get("nextToken")
        if not token:
            break
    assert sizes == [50, 50, 20] and seen == names, "every group exactly once, by name"
    assert len(logs.describe_log_groups()["logGroups"]) == 50, "default page"
    assert len(logs.describe_log_groups(limit=1)["logGroups"]) == 1


def _lambda_functions(aws):
    """The Lambda client and a create(name, **extra) making a zip function with ROLE_ARN, whose
    role is created in IAM first (moto, like AWS, refuses a role that does not exist)."""
    import io
    import zipfile

    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]}
    aws("iam").create_role(RoleName="lambda-role", AssumeRolePolicyDocument=json.dumps(trust))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\n")
    client = aws("lambda")

    def create(name, **extra):
        return client.create_function(
            FunctionName=name, Runtime="provided.al2023", Role=ROLE_ARN, Handler="bootstrap",
            Code={"ZipFile": buffer.getvalue()}, **extra,
        )

    return client, create


def test_lambda_create_function_needs_its_role_in_iam(aws):
    client = aws("lambda")
    request = {"FunctionName": "f", "Runtime": "provided.al2023", "Role": ROLE_ARN, "Handler": "bootstrap", "Code": {"ZipFile": b"PK"}}
    assert _code(client.create_function, **request) == "InvalidParameterValueException"
    _, create = _lambda_functions(aws)
    assert create("f")["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"


def test_lambda_logging_config_has_aws_defaults_and_levels_only_with_json(aws):
    client, create = _lambda_functions(aws)
    text = {"LogFormat": "Text", "LogGroup": "/aws/lambda/plain"}
    assert create("plain")["LoggingConfig"] == text
    assert client.get_function(FunctionName="plain")["Configuration"]["LoggingConfig"] == text
    assert client.get_function_configuration(FunctionName="plain")["LoggingConfig"] == text
    made = create("structured", LoggingConfig={"LogFormat": "JSON", "LogGroup": "/lakeops/functions"})["LoggingConfig"]
    assert made == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO", "LogGroup": "/lakeops/functions"}
    assert _code(create, "bad", LoggingConfig={"LogFormat": "Text", "ApplicationLogLevel": "DEBUG"}) == "InvalidParameterValueException"
    assert _code(create, "bad", LoggingConfig={"LogFormat": "XML"}) == "ValidationException"
    assert _code(create, "bad", LoggingConfig={"LogGroup": "bad:name"}) == "ValidationException"
    assert _code(client.get_function, FunctionName="bad") == "ResourceNotFoundException", "a refused create stores nothing"
    update = client.update_function_configuration
    debug = update(FunctionName="plain", LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"})["LoggingConfig"]
    assert debug == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "INFO", "LogGroup": "/aws/lambda/plain"}
    assert _code(update, FunctionName="plain", LoggingConfig={"LogFormat": "Text", "SystemLogLevel": "WARN"}) == "InvalidParameterValueException"
    assert client.get_function_configuration(FunctionName="plain")["LoggingConfig"] == debug, "a refused update changes nothing"
    assert update(FunctionName="plain", LoggingConfig={"LogFormat": "Text"})["LoggingConfig"] == text


def test_lambda_list_functions_pages_at_most_50_with_max_items_1_to_10000(aws):
    client, create = _lambda_functions(aws)
    names = [f"fn-{i:03}" for i in range(60)]
    for name in names:
        create(name)
    for bad in (0, 10_001):
        assert _code(client.list_functions, MaxItems=bad) == "ValidationException"

    def pages(**kwargs):
        found, marker = [], None
        while True:
            out = client.list_functions(**kwargs, **({"Marker": marker} if marker else {}))
            found.append(out["Functions"])
            marker = out.get("NextMarker")
            if not marker:
                return found

    default = pages()
    assert [len(p) for p in default] == [50, 10]
    assert [f["FunctionName"] for p in default for f in p] == names, "every function exactly once"
    assert [len(p) for p in pages(MaxItems=10_000)] == [50, 10], "never more than 50 a page"
    small = pages(MaxItems=7)
    assert all(len(p) == 7 for p in small[:-1]) and [f["FunctionName"] for p in small for f in p] == names
    listed = default[0][0]
    assert listed["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn-000"}
    assert "State" not in listed and "LastUpdateStatus" not in listed, "GetFunction's fields only"
    assert _code(client.list_functions, Marker="not-a-marker") == "InvalidParameterValueException"


# --- faults the end-to-end tests already use, and the rest of the extension ------------------------


def test_throttle_error_and_delay_faults_still_work(aws, extension):
    sqs, athena = aws("sqs"), aws("athena")
    faults = [
        {"Service": "sqs", "Action": "ListQueues", "Count": 1, "Kind": "throttle"},
        {"Service": "sqs", "Action": "ListQueues", "Count": 1, "Kind": "error"},
        {"Service": "sqs", "Action": "ListQueues", "Count": 1, "Kind": "delay", "Seconds": 0.3},
        {"Service": "athena", "Action": "GetQueryExecution", "Count": 2},
    ]
    assert extension("LakeopsInjectFaults", {"Faults": faults})[0] == 200
    throttled = _error(sqs.list_queues)
    assert (throttled["Error"]["Code"], throttled["ResponseMetadata"]["HTTPStatusCode"]) == ("ThrottlingException", 400)
    failed = _error(sqs.list_queues)
    assert (failed["Error"]["Code"], failed["ResponseMetadata"]["HTTPStatusCode"]) == ("InternalFailure", 500)
    started = time.time()
    sqs.list_queues()
    assert time.time() - started >= 0.3
    sqs.list_queues()
    for _ in range(2):
        assert _code(athena.get_query_execution, QueryExecutionId="nope") == "InternalFailure"
    assert _code(athena.get_query_execution, QueryExecutionId="nope") == "InvalidRequestException"
    listed = extension("LakeopsInjectedFaults")[2]["Faults"]
    assert [(f["Kind"], f["Count"], f["Injected"]) for f in listed] == [
        ("throttle", 0, 1), ("error", 0, 1), ("delay", 0, 1), ("error", 0, 2)
    ]
    assert extension("LakeopsAllCallCounts")[2]["Counts"]["sqs"]["ListQueues"] == 4
    assert extension("LakeopsApiCallCounts")[2]["Counts"]["GetQueryExecution"] == 3


def test_invalid_fault_rules_are_refused(extension):
    for bad in (
        {"Service": "sqs", "Action": "ListQueues", "Kind": "explode"},
        {"Service": "sqs", "Action": "ListQueues", "Kind": "conflict"},
        {"Service": "dynamodb", "Action": "GetItem", "Kind": "unprocessed"},
        {"Service": "sqs", "Action": "ListQueues", "Kind": "error", "KeyPrefix": "a"},
    ):
        status, _, answer = extension("LakeopsInjectFaults", {"Faults": [bad]})
        assert (status, answer["__type"]) == (400, "InvalidRequestException")
    assert extension("LakeopsInjectedFaults")[2]["Faults"] == []


def test_cloudwatch_speaks_rpc_v2_cbor(endpoint):
    import cbor2

    def call(operation, body):
        request = urllib.request.Request(
            f"{endpoint}/service/GraniteServiceVersion20100801/operation/{operation}",
            data=cbor2.dumps(body),
            headers={
                "Content-Type": "application/cbor",
                "smithy-protocol": "rpc-v2-cbor",
                "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/monitoring/aws4_request, "
                "SignedHeaders=host, Signature=0",
            },
        )
        with urllib.request.urlopen(request) as response:
            return cbor2.loads(response.read())

    now = time.time()
    call("PutMetricData", {"Namespace": "lakeops", "MetricData": [{"MetricName": "m", "Value": 2.0, "Timestamp": now}]})
    query = {"Id": "m", "MetricStat": {"Metric": {"Namespace": "lakeops", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}}
    out = call("GetMetricData", {"MetricDataQueries": [query], "StartTime": now - 600, "EndTime": now + 600})
    assert out["MetricDataResults"][0]["Values"] == [2.0]
