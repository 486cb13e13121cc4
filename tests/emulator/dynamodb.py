"""DynamoDB as AWS documents it: item and transaction limits, page sizes, and its partial answers.

moto's DynamoDB is close; this module fills the gaps the suite lives by (docs/emulator-contract.md
lists each limit, its AWS source and who enforces it):

* item size: 400 KB (409,600 bytes) — moto stops at 405,000, below AWS's number;
* ``TransactWriteItems``: at most 4 MB of items in one transaction (moto checks only the 100
  actions); the ``conflict`` fault kind cancels a transaction with a ``TransactionConflict``
  reason, as a concurrent transaction on one of its items does;
* ``BatchGetItem``: the ``unprocessed`` fault kind holds back part of the keys in
  ``UnprocessedKeys``, and every ``UnprocessedKeys`` entry carries the request's projection and
  read settings along with its keys, as AWS's does (moto's carries only the keys);
* ``Query`` / ``Scan``: pages of at most 1 MB (1,048,576 bytes) of items (moto's 1,000,000);
* transactions back up only the items they name, not whole tables (the scale benchmark writes
  tens of thousands of items into one table).
"""

import base64
import copy
import threading

import moto.dynamodb.models as dynamodb_models
import moto.dynamodb.models.dynamo_type as dynamo_type
import moto.dynamodb.models.table as dynamodb_table
from moto.dynamodb.exceptions import ItemSizeTooLarge, MockValidationException, TransactionCanceledException
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.responses import DynamoHandler

import faults

# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html (item size)
ITEM_MAX_BYTES = 400 * 1024
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
TRANSACTION_MAX_ACTIONS = 100
TRANSACTION_MAX_BYTES = 4 * 1024 * 1024
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Query.html (and API_Scan)
PAGE_MAX_BYTES = 1024 * 1024
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html#API_TransactWriteItems_Errors
CONFLICT_MESSAGE = "Transaction is ongoing for the item"


# --- sizes, by DynamoDB's rules ----------------------------------------------------------------
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html


def _blob_size(value):
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    try:
        return len(base64.b64decode(value))
    except (ValueError, TypeError):
        return bytesize(value)


def _number_size(text):
    """About one byte per two significant digits, plus one."""
    digits = str(text).lstrip("+-").lower().split("e")[0].replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def attribute_value_size(value):
    """Bytes one attribute value (DynamoDB JSON, ``{"S": "..."}``) counts toward an item's size."""
    if not isinstance(value, dict) or len(value) != 1:
        return 0  # malformed: moto's own validation answers it
    ((kind, v),) = value.items()
    if kind == "S":
        return bytesize(v)
    if kind == "N":
        return _number_size(v)
    if kind == "B":
        return _blob_size(v)
    if kind == "SS":
        return sum(bytesize(s) for s in v)
    if kind == "NS":
        return sum(_number_size(n) for n in v)
    if kind == "BS":
        return sum(_blob_size(b) for b in v)
    if kind == "L":
        return 3 + sum(1 + attribute_value_size(e) for e in v)
    if kind == "M":
        return 3 + sum(1 + bytesize(k) + attribute_value_size(e) for k, e in v.items())
    return 1  # BOOL, NULL


def item_size(attributes):
    return sum(bytesize(name) + attribute_value_size(value) for name, value in (attributes or {}).items())


def _action_size(entry):
    """What one transaction action adds to the transaction's size: the item a Put writes; the key
    and the new values of an Update; the key of a Delete or ConditionCheck."""
    op_type, op = next(iter(entry.items()))
    if op_type == "Put":
        return item_size(op.get("Item"))
    size = item_size(op.get("Key"))
    if op_type == "Update":
        size += sum(attribute_value_size(v) for v in (op.get("ExpressionAttributeValues") or {}).values())
    return size


# --- item size: AWS's 400 KB instead of moto's 405,000 bytes -----------------------------------


def _limited_size_setitem(self, key, value):
    """moto's LimitedSizeDict.__setitem__ (same size accounting) with AWS's limit."""
    current = sum(
        item.size() if type(item) is dynamo_type.DynamoType else bytesize(str(item))
        for item in (list(self.keys()) + list(self.values()))
    )
    new = bytesize(key) + (value.size() if type(value) is dynamo_type.DynamoType else bytesize(str(value)))
    if current + new > ITEM_MAX_BYTES:
        raise ItemSizeTooLarge
    dict.__setitem__(self, key, value)


# --- transactions: sizes, injected conflicts, item-level backups --------------------------------


def _action_key(backend, entry):
    """The primary key an action targets, or None when its table is unknown."""
    op_type, op = next(iter(entry.items()))
    if op_type != "Put":
        return op.get("Key")
    table = backend.tables.get(op.get("TableName"))
    if table is None or not op.get("Item"):
        return None
    key = {table.hash_key_attr: op["Item"].get(table.hash_key_attr)}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"].get(table.range_key_attr)
    return key


def _key_has_prefix(key, prefix):
    if prefix is None:
        return True
    return any(isinstance(v, dict) and str(v.get("S", "")).startswith(prefix) for v in (key or {}).values())


def _handler_transact_write_items(self):
    items = self.body.get("TransactItems") or []
    if len(items) > TRANSACTION_MAX_ACTIONS:  # moto answers this one itself
        return _moto_handler_transact_write_items(self)
    size = sum(_action_size(entry) for entry in items)
    if size > TRANSACTION_MAX_BYTES:
        raise MockValidationException(
            f"Transaction size {size} bytes is over the limit of {TRANSACTION_MAX_BYTES} bytes (4 MB) of items"
        )
    keys = [_action_key(self.dynamodb_backend, entry) for entry in items]
    rule = faults.take(
        "dynamodb",
        "TransactWriteItems",
        ("conflict",),
        eligible=lambda r: any(_key_has_prefix(k, r.get("KeyPrefix")) for k in keys if k is not None),
    )
    if rule is not None:
        prefix = rule.get("KeyPrefix")
        conflicting = [k is not None and _key_has_prefix(k, prefix) for k in keys]
        if prefix is None:  # without a prefix, the first item is the one another transaction holds
            conflicting = [i == conflicting.index(True) for i in range(len(keys))]
        raise TransactionCanceledException(
            [("TransactionConflict", CONFLICT_MESSAGE, None) if c else (None, None, None) for c in conflicting]
        )
    return _moto_handler_transact_write_items(self)


# moto backs each TransactWriteItems up by deep-copying every table it names, so a transaction
# costs the whole table (the scale benchmark prices tens of thousands of queries into one). The
# same all-or-nothing result, backing up only the items the transaction names: moto's own
# rollback is given the table itself back, and the named items are restored here.
# One lock for every item read and write: moto's server answers requests on several threads, and
# its UpdateItem / PutItem / DeleteItem check their condition and then write, so two concurrent
# conditional writes to one item could both pass. DynamoDB applies a conditional write atomically
# (and a strongly consistent read sees only whole writes), so the emulator does too. Re-entrant:
# a transaction reads and writes items through the same methods.
_ITEMS = threading.RLock()
_TRANSACTIONS = _ITEMS


def _atomic(method):
    def locked(self, *args, **kwargs):
        with _ITEMS:
            return method(self, *args, **kwargs)

    locked.__name__ = method.__name__
    return locked


class _NoTableCopy:
    """Stands in for the `copy` module inside moto's transaction: tables are not copied."""

    @staticmethod
    def deepcopy(value, *args):
        return value


def _transact_write_items_backing_up_items(self, transact_items):
    with _TRANSACTIONS:
        # Items written by transactions (the scale benchmark's write-unit model: 2 per item).
        per_service = faults.CALLS.setdefault("dynamodb", {})
        per_service["TransactWriteItems.items"] = per_service.get("TransactWriteItems.items", 0) + len(transact_items)
        backups = []
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            if op_type == "Put":
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op.get("Key")
            if key is None:
                continue
            current = self.get_item(op["TableName"], key)
            backups.append((op["TableName"], key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
        dynamodb_models.copy = _NoTableCopy
        try:
            return _moto_transact_write_items(self, transact_items)
        except Exception:
            for table_name, key, attributes in backups:
                if attributes is None:
                    try:
                        self.delete_item(table_name, key)
                    except Exception:
                        pass
                else:
                    self.put_item(table_name, attributes)
            raise
        finally:
            dynamodb_models.copy = copy


# --- BatchGetItem: unprocessed keys -------------------------------------------------------------


def _held_back(request, prefix):
    """{table: [keys]} an ``unprocessed`` fault holds back: the keys matching ``prefix``, or the
    second half of all keys; at least one key is always answered (AWS returns an error, not an
    empty answer, when it can serve none)."""
    flat = [(table, key) for table, spec in request.items() for key in spec.get("Keys") or []]
    if prefix is None:
        chosen = flat[len(flat) - len(flat) // 2 :]
    else:
        chosen = [(t, k) for t, k in flat if _key_has_prefix(k, prefix)]
        if len(chosen) == len(flat):
            chosen = chosen[1:]
    held = {}
    for table, key in chosen:
        held.setdefault(table, []).append(key)
    return held


def _handler_batch_get_item(self):
    request = self.body.get("RequestItems") or {}
    total = sum(len(spec.get("Keys") or []) for spec in request.values())
    held = {}
    if 1 < total <= 100:  # moto itself rejects more than 100 keys
        rule = faults.take(
            "dynamodb",
            "BatchGetItem",
            ("unprocessed",),
            eligible=lambda r: any(_held_back(request, r.get("KeyPrefix")).values()),
        )
        if rule is not None:
            held = _held_back(request, rule.get("KeyPrefix"))
    if held:
        asked = {}
        for table, spec in request.items():
            keys = [k for k in spec.get("Keys") or [] if k not in held.get(table, [])]
            if keys:
                asked[table] = {**spec, "Keys": keys}
        self.body = {**self.body, "RequestItems": asked}
    result = _moto_handler_batch_get_item(self)
    answer = result.result
    unprocessed = answer.setdefault("UnprocessedKeys", {})
    for table, keys in held.items():
        unprocessed.setdefault(table, {"Keys": []})["Keys"].extend(keys)
    for table, entry in unprocessed.items():
        for field, value in request.get(table, {}).items():
            if field != "Keys":
                entry.setdefault(field, value)
    return result


_moto_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items
_moto_handler_transact_write_items = DynamoHandler.transact_write_items
_moto_handler_batch_get_item = DynamoHandler.batch_get_item


def install():
    for name in ("put_item", "update_item", "delete_item", "get_item"):
        setattr(dynamodb_models.DynamoDBBackend, name, _atomic(getattr(dynamodb_models.DynamoDBBackend, name)))
    dynamo_type.LimitedSizeDict.__setitem__ = _limited_size_setitem
    dynamodb_table.RESULT_SIZE_LIMIT = PAGE_MAX_BYTES
    dynamodb_models.DynamoDBBackend.transact_write_items = _transact_write_items_backing_up_items
    DynamoHandler.transact_write_items = _handler_transact_write_items
    DynamoHandler.batch_get_item = _handler_batch_get_item
