"""Fault injection and call counting for every service of the emulator.

A test asks, through ``AmazonAthena.LakeopsInjectFaults``, that the next calls of one action of
one service fail the way AWS makes them fail. Each fault rule is::

    {"Service": "sns", "Action": "Publish", "Kind": "error", "Count": 6}

* ``Kind`` (default ``error``):
  - ``throttle``: 400 ``ThrottlingException``; ``error``: 500 ``InternalFailure``; ``delay``:
    the call waits ``Seconds`` (default 1) and then runs. Any service, any action. These are
    answered here, before moto sees the call, serialized in the service's own protocol.
  - ``conflict`` (DynamoDB ``TransactWriteItems`` only): the transaction is cancelled with
    ``TransactionCanceledException`` and a ``TransactionConflict`` cancellation reason, as when a
    concurrent transaction holds one of its items (see dynamodb.py).
  - ``unprocessed`` (DynamoDB ``BatchGetItem`` only): part of the requested keys come back in
    ``UnprocessedKeys`` (see dynamodb.py).
* ``Count`` (default 1): how many calls the rule affects, then it is spent.
* ``Fraction`` (optional, 0..1): each eligible call is affected with this probability (``Seed``
  makes the draw repeatable); with a ``Fraction`` and no ``Count`` the rule never runs out.
* ``KeyPrefix`` (``conflict`` / ``unprocessed`` only): only calls naming an item whose key has a
  string value starting with this prefix are eligible, and only those items conflict or are
  held back.

``AmazonAthena.LakeopsInjectedFaults`` lists the rules with ``Injected``, the number of calls
each one affected; ``AmazonAthena.LakeopsClearFaults`` drops them all. ``CALLS`` counts the
calls every service received (``AmazonAthena.LakeopsAllCallCounts``).
"""

import random
import threading
import time

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse

FAULTS = []  # [{"Service", "Action", "Count", "Kind", "Seconds", "Injected", ...}], JSON as listed
_DRAWS = []  # random.Random per rule of FAULTS, same index (kept out of the JSON)
CALLS = {}  # {service: {action: calls received}}, every service (the scale benchmark's counts)
_LOCK = threading.Lock()  # moto server answers calls on several threads

# Kinds answered before the call reaches moto: (error code, message, HTTP status).
ERROR_KINDS = {
    "throttle": ("ThrottlingException", "Rate exceeded (lakeops fault injection)", 400),
    "error": ("InternalFailure", "Internal failure (lakeops fault injection)", 500),
}
# Kinds a service module answers itself, and the one action each applies to.
SERVICE_KINDS = {
    "conflict": ("dynamodb", "TransactWriteItems"),
    "unprocessed": ("dynamodb", "BatchGetItem"),
}
KINDS = sorted([*ERROR_KINDS, "delay", *SERVICE_KINDS])
UNLIMITED = 10**12


class _InjectedFault(ServiceException):
    pass


def add(specs):
    """Adds fault rules; returns an error text (and adds nothing) when one is invalid."""
    rules = []
    for f in specs:
        kind = f.get("Kind", "error")
        if kind not in KINDS:
            return f"fault kind {kind!r} is not one of {', '.join(KINDS)}"
        if not f.get("Service") or not f.get("Action"):
            return "each fault needs Service and Action"
        if kind in SERVICE_KINDS and (f["Service"], f["Action"]) != SERVICE_KINDS[kind]:
            service, action = SERVICE_KINDS[kind]
            return f"fault kind {kind!r} applies to {service} {action} only"
        if f.get("KeyPrefix") is not None and kind not in SERVICE_KINDS:
            return f"KeyPrefix applies to the kinds {', '.join(sorted(SERVICE_KINDS))} only"
        fraction = f.get("Fraction")
        if fraction is not None and not 0 < float(fraction) <= 1:
            return "Fraction must be in (0, 1]"
        count = f.get("Count")
        count = int(count) if count is not None else (UNLIMITED if fraction is not None else 1)
        rule = {
            "Service": f["Service"],
            "Action": f["Action"],
            "Count": count,
            "Kind": kind,
            "Seconds": f.get("Seconds"),
            "Injected": 0,
        }
        for optional in ("Fraction", "KeyPrefix", "Seed"):
            if f.get(optional) is not None:
                rule[optional] = f[optional]
        rules.append(rule)
    with _LOCK:
        for rule in rules:
            FAULTS.append(rule)
            _DRAWS.append(random.Random(rule.get("Seed")))
    return None


def clear():
    with _LOCK:
        FAULTS.clear()
        _DRAWS.clear()


def take(service, action, kinds, eligible=None):
    """The first live rule of one of ``kinds`` for this call (spending one of its ``Count``), or None.

    ``eligible(rule)`` narrows the calls a rule may take (a ``KeyPrefix``); a call a rule's
    ``Fraction`` spares does not spend it.
    """
    with _LOCK:
        for rule, draw in zip(FAULTS, _DRAWS):
            if rule["Service"] != service or rule["Action"] != action or rule["Kind"] not in kinds:
                continue
            if rule["Count"] <= 0 or (eligible is not None and not eligible(rule)):
                continue
            if "Fraction" in rule and draw.random() >= float(rule["Fraction"]):
                continue
            rule["Count"] -= 1
            rule["Injected"] += 1
            return rule
    return None


def count_call(service, action):
    with _LOCK:
        per_service = CALLS.setdefault(service, {})
        per_service[action] = per_service.get(action, 0) + 1


_base_call_action = BaseResponse.call_action


def _call_action_with_faults(self):
    try:
        service = type(self).__module__.split(".")[1]
        action = self._get_action()
    except Exception:
        return _base_call_action(self)
    count_call(service, action)
    rule = take(service, action, ("delay", *ERROR_KINDS))
    if rule is not None:
        if rule["Kind"] == "delay":
            time.sleep(float(rule.get("Seconds") or 1))
        else:
            code, message, status = ERROR_KINDS[rule["Kind"]]
            _, headers, body = self.serialized(ActionResult(_InjectedFault(code, message)))
            headers["status"] = status
            return status, headers, body
    return _base_call_action(self)


def install():
    BaseResponse.call_action = _call_action_with_faults
