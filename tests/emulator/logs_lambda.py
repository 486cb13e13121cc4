"""CloudWatch Logs account policies and log classes, Lambda logging configuration and paging.

What a blind-spot audit reads, as AWS shapes it, where moto 5.2.5 has nothing or less:

* CloudWatch Logs ``PutAccountPolicy`` / ``DescribeAccountPolicies`` / ``DeleteAccountPolicy``
  for ``SUBSCRIPTION_FILTER_POLICY`` (moto has no account policies). One such policy per account
  and Region (another name: ``LimitExceededException``); the document is JSON with a
  ``DestinationArn`` (``RoleArn``, ``FilterPattern``, ``Distribution`` optional), at most 30,720
  characters; ``selectionCriteria`` only ``LogGroupName NOT IN [...]``, at most 25 KB of UTF-8;
  ``scope`` only ``ALL``. Other policy types are refused with ``InvalidParameterException``
  ("not modelled"): the emulator does not pretend to hold them.
* Log group classes: ``CreateLogGroup`` takes ``logGroupClass`` (``STANDARD`` by default,
  ``INFREQUENT_ACCESS``, ``DELIVERY``, ``ESSENTIALS``), ``DescribeLogGroups`` returns it for every
  group and filters by it; ``limit`` is 1..50 (moto checked only the upper bound), paging is
  moto's. ``PutSubscriptionFilter`` on an ``INFREQUENT_ACCESS`` group is refused; a group's two
  subscription filters can be updated in place (moto refused any put once there were two).
* Lambda ``LoggingConfig`` on ``CreateFunction`` / ``UpdateFunctionConfiguration``, returned by
  ``GetFunction``, ``GetFunctionConfiguration``, ``ListFunctions`` with AWS's defaults; and
  ``ListFunctions`` paged (``MaxItems`` 1..10,000, at most 50 a page, ``Marker`` /
  ``NextMarker``; moto returned everything at once).

A caller creating Lambda functions must first create the execution role in IAM (moto, like AWS,
refuses a role that does not exist with ``InvalidParameterValueException``), e.g.
``iam.create_role(RoleName="lambda-role", AssumeRolePolicyDocument=...)`` for
``arn:aws:iam::123456789012:role/lambda-role``. moto needs no Docker to create, read, update or
list functions (only to run them with ``use_docker``); the code can be any base64 zip.

Each limit cites its AWS page; docs/emulator-contract.md lists them with their tests. State
lives on moto's backends, so ``POST /moto-api/reset`` clears it.
"""

import base64
import json
import re
import time

from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.models import LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.logs.exceptions import InvalidParameterException, LogsClientError, ResourceNotFoundException
from moto.logs.models import LogGroup, LogsBackend, SubscriptionFilter
from moto.logs.responses import LogsResponse
from moto.logs.utils import PAGINATION_MODEL
from moto.utilities.paginator import paginate

# --- CloudWatch Logs: AWS's numbers ----------------------------------------------------------

# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutAccountPolicy.html
# (PolicyType and Scope enums, "Each account can have one account-level subscription filter
# policy per Region", "cannot start with aws/", selectionCriteria "up to 25KB ... UTF-8 bytes")
POLICY_TYPES = (
    "DATA_PROTECTION_POLICY",
    "SUBSCRIPTION_FILTER_POLICY",
    "FIELD_INDEX_POLICY",
    "TRANSFORMER_POLICY",
    "METRIC_EXTRACTION_POLICY",
    "RETENTION_POLICY",
)
SUBSCRIPTION_FILTER_POLICY = "SUBSCRIPTION_FILTER_POLICY"
SUBSCRIPTION_POLICIES_PER_REGION = 1
SCOPES = ("ALL",)
# AWS writes "25KB" (also "a size limit of 25 KB" in the User Guide's subscription-concepts
# page) without saying 25,000 or 25,600 bytes: the emulator holds the lower number, so whatever
# it accepts AWS accepts too.
SELECTION_CRITERIA_MAX_BYTES = 25_000
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_AccountPolicy.html
POLICY_DOCUMENT_MAX_CHARS = 30_720
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_SubscriptionFilter.html
DISTRIBUTIONS = ("Random", "ByLogStream")
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
LOG_GROUP_CLASSES = ("STANDARD", "INFREQUENT_ACCESS", "DELIVERY", "ESSENTIALS")
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CloudWatch_Logs_Log_Classes.html:
# Infrequent Access has no subscription filters. What DELIVERY and ESSENTIALS allow is not
# stated in the pages found, so they are left alone here.
NO_SUBSCRIPTION_CLASSES = ("INFREQUENT_ACCESS",)
# API_DescribeLogGroups: "If you specify either INFREQUENT_ACCESS or ESSENTIALS, the results
# include log groups in both the Infrequent Access and Essentials log classes."
CLASS_FILTERS = {
    "INFREQUENT_ACCESS": ("INFREQUENT_ACCESS", "ESSENTIALS"),
    "ESSENTIALS": ("INFREQUENT_ACCESS", "ESSENTIALS"),
}
# API_DescribeLogGroups: limit, Valid Range 1..50 (default 50)
DESCRIBE_LOG_GROUPS_MIN, DESCRIBE_LOG_GROUPS_MAX = 1, 50
# API_PutSubscriptionFilter: "Each log group can have up to two subscription filters"
SUBSCRIPTION_FILTERS_PER_GROUP = 2

_NOT_IN = re.compile(r"\s*LogGroupName\s+NOT\s+IN\s+(\[.*\])\s*", re.DOTALL)


def _invalid(message):
    return InvalidParameterException(message)


def _violation(value, field, constraint):
    """CloudWatch Logs' wording of a model constraint (InvalidParameterException)."""
    return InvalidParameterException(constraint=constraint, parameter=field, value=value)


def _required(value, field):
    if value is None or value == "":
        raise _violation(None, field, "Member must not be null")
    return value


def _enum(value, field, allowed):
    if value not in allowed:
        raise _violation(value, field, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
    return value


def _limit_exceeded(message):
    return LogsClientError("LimitExceededException", message)


# --- account policies --------------------------------------------------------------------------


def _policies(backend):
    """{(policyType, policyName): AccountPolicy} on moto's per-account, per-Region logs backend."""
    store = getattr(backend, "_lakeops_account_policies", None)
    if store is None:
        store = backend._lakeops_account_policies = {}
    return store


def _check_subscription_document(text):
    """The subscription filter policy document (API_PutAccountPolicy, policyDocument)."""
    if len(text) > POLICY_DOCUMENT_MAX_CHARS:
        raise _invalid(f"policyDocument is {len(text)} characters; it can be up to {POLICY_DOCUMENT_MAX_CHARS}")
    try:
        document = json.loads(text)
    except ValueError:
        raise _invalid("policyDocument is not valid JSON")
    destination = document.get("DestinationArn") if isinstance(document, dict) else None
    if not isinstance(destination, str) or not destination:
        raise _invalid("A subscription filter policy document needs a DestinationArn")
    for key in ("RoleArn", "FilterPattern"):
        if key in document and not isinstance(document[key], str):
            raise _invalid(f"{key} in the policy document must be a string")
    if "Distribution" in document and document["Distribution"] not in DISTRIBUTIONS:
        raise _invalid(f"Distribution must be one of {', '.join(DISTRIBUTIONS)}")


def excluded_log_groups(criteria):
    """The names a ``LogGroupName NOT IN [...]`` selection criteria excludes, or None if malformed."""
    match = _NOT_IN.fullmatch(criteria or "")
    if not match:
        return None
    try:
        names = json.loads(match.group(1))
    except ValueError:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return names


def _check_selection_criteria(criteria):
    size = len(criteria.encode("utf-8"))
    if size > SELECTION_CRITERIA_MAX_BYTES:
        raise _invalid(
            f"selectionCriteria is {size} bytes; it can be up to 25KB "
            f"({SELECTION_CRITERIA_MAX_BYTES} bytes in this emulator)"
        )
    if excluded_log_groups(criteria) is None:
        raise _invalid(
            "For SUBSCRIPTION_FILTER_POLICY the only supported selectionCriteria filter is "
            'LogGroupName NOT IN ["name", ...]'
        )


def _check_put_account_policy(name, document, policy_type, scope, criteria):
    _required(name, "policyName")
    if not isinstance(_required(document, "policyDocument"), str):
        raise _invalid("policyDocument must be a string holding JSON")
    _enum(_required(policy_type, "policyType"), "policyType", POLICY_TYPES)
    if policy_type != SUBSCRIPTION_FILTER_POLICY:
        raise _invalid(
            f"lakeops emulator: {policy_type} account policies are not modelled; only {SUBSCRIPTION_FILTER_POLICY}"
        )
    _enum(scope, "scope", SCOPES)
    if name.startswith("aws/"):
        raise _invalid("policyName cannot start with aws/")
    _check_subscription_document(document)
    if criteria is not None:
        _check_selection_criteria(criteria)


class LakeopsLogs:
    """Methods grafted onto moto's LogsResponse (moto dispatches X-Amz-Target by method name)."""

    def put_account_policy(self):
        # Request and response: API_PutAccountPolicy; the policy: API_AccountPolicy.
        name = self._get_param("policyName")
        document = self._get_param("policyDocument")
        policy_type = self._get_param("policyType")
        scope = self._get_param("scope") or "ALL"
        criteria = self._get_param("selectionCriteria")
        _check_put_account_policy(name, document, policy_type, scope, criteria)
        store = _policies(self.logs_backend)
        same_type = [key for key in store if key[0] == policy_type]
        if (policy_type, name) not in store and len(same_type) >= SUBSCRIPTION_POLICIES_PER_REGION:
            raise _limit_exceeded(
                "Each account can have one account-level subscription filter policy per Region; "
                f"to update it, use its name ({same_type[0][1]})"
            )
        policy = {
            "policyName": name,
            "policyDocument": document,
            "lastUpdatedTime": int(time.time() * 1000),  # Timestamp: epoch milliseconds
            "policyType": policy_type,
            "scope": scope,
            "accountId": self.current_account,
        }
        if criteria is not None:
            policy["selectionCriteria"] = criteria
        store[(policy_type, name)] = policy
        return json.dumps({"accountPolicy": policy})

    def describe_account_policies(self):
        # API_DescribeAccountPolicies: policyType required, policyName and accountIdentifiers filter.
        policy_type = _enum(_required(self._get_param("policyType"), "policyType"), "policyType", POLICY_TYPES)
        name = self._get_param("policyName")
        accounts = self._get_param("accountIdentifiers") or []
        found = [
            policy
            for (kind, policy_name), policy in sorted(_policies(self.logs_backend).items())
            if kind == policy_type and (name is None or policy_name == name)
            and (not accounts or policy["accountId"] in accounts)
        ]
        return json.dumps({"accountPolicies": found})

    def delete_account_policy(self):
        # API_DeleteAccountPolicy: policyName and policyType required; dryRun only for RETENTION_POLICY.
        name = _required(self._get_param("policyName"), "policyName")
        policy_type = _enum(_required(self._get_param("policyType"), "policyType"), "policyType", POLICY_TYPES)
        if self._get_param("dryRun") and policy_type != "RETENTION_POLICY":
            raise _invalid("dryRun is valid only for RETENTION_POLICY")
        if _policies(self.logs_backend).pop((policy_type, name), None) is None:
            raise ResourceNotFoundException(f"Policy {name} of type {policy_type} does not exist")
        return "{}"

    # --- log group classes -----------------------------------------------------------------------

    def create_log_group(self):
        # API_CreateLogGroup: logGroupClass, STANDARD when omitted, fixed once created.
        group_class = self._get_param("logGroupClass")
        if group_class is not None:
            _enum(group_class, "logGroupClass", LOG_GROUP_CLASSES)
        answer = _moto_create_log_group(self)
        self.logs_backend.groups[self._get_param("logGroupName")].log_group_class = group_class or "STANDARD"
        return answer

    def describe_log_groups(self):
        # API_DescribeLogGroups: limit 1..50, logGroupClass filter; paging by moto's paginator.
        limit = self._get_param("limit", DESCRIBE_LOG_GROUPS_MAX)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < DESCRIBE_LOG_GROUPS_MIN:
            constraint = f"Member must have value greater than or equal to {DESCRIBE_LOG_GROUPS_MIN}"
            raise _violation(limit, "limit", constraint)
        if limit > DESCRIBE_LOG_GROUPS_MAX:
            raise _violation(limit, "limit", f"Member must have value less than or equal to {DESCRIBE_LOG_GROUPS_MAX}")
        group_class = self._get_param("logGroupClass")
        if group_class is not None:
            _enum(group_class, "logGroupClass", LOG_GROUP_CLASSES)
        groups, token = self.logs_backend.describe_log_groups(
            limit=limit,
            log_group_name_prefix=self._get_param("logGroupNamePrefix"),
            log_group_class=group_class,
            next_token=self._get_param("nextToken"),
        )
        answer = {"logGroups": [g.to_describe_dict() for g in groups]}
        if token:
            answer["nextToken"] = token
        return json.dumps(answer)

    def put_subscription_filter(self):
        group = self.logs_backend.groups.get(self._get_param("logGroupName"))
        group_class = getattr(group, "log_group_class", "STANDARD")
        if group is not None and group_class in NO_SUBSCRIPTION_CLASSES:
            # The Log classes page says Infrequent Access has no subscription filters; the API
            # reference names no error for it, so this is InvalidParameterException, the code
            # CloudWatch Logs uses for a request it cannot take. InvalidOperationException, also
            # modelled for PutSubscriptionFilter, may be what AWS really sends: a caller should
            # treat either as "refused".
            raise _invalid(f"Subscription filters are not supported for log groups in the {group_class} log class")
        return _moto_put_subscription_filter(self)


@paginate(pagination_model=PAGINATION_MODEL)
def describe_log_groups(self, log_group_name_prefix=None, log_group_class=None):
    """moto's DescribeLogGroups model (name prefix, sorted by name) plus the class filter; moto's
    paginator finds its settings (limit, nextToken) by this function's name."""
    classes = CLASS_FILTERS.get(log_group_class, (log_group_class,)) if log_group_class else None
    groups = [
        group
        for name, group in self.groups.items()
        if name.startswith(log_group_name_prefix or "")
        and (classes is None or getattr(group, "log_group_class", "STANDARD") in classes)
    ]
    return sorted(groups, key=lambda g: g.name)


def _group_to_describe_dict(self):
    # API_LogGroup: logGroupClass on every group (moto's own groups, e.g. Lambda's, are STANDARD).
    described = _moto_group_to_describe_dict(self)
    described["logGroupClass"] = getattr(self, "log_group_class", "STANDARD")
    return described


def _group_put_subscription_filter(self, filter_name, filter_pattern, destination_arn, role_arn):
    """moto's, except that naming one of the two existing filters updates it (API_PutSubscriptionFilter:
    "If you are updating an existing filter, you must specify the correct name")."""
    if filter_name in self.subscription_filters:
        self.subscription_filters[filter_name].update(filter_pattern, destination_arn, role_arn)
        return
    if len(self.subscription_filters) >= SUBSCRIPTION_FILTERS_PER_GROUP:
        raise _limit_exceeded("Resource limit exceeded.")
    self.subscription_filters[filter_name] = SubscriptionFilter(
        name=filter_name,
        log_group_name=self.name,
        filter_pattern=filter_pattern,
        destination_arn=destination_arn,
        role_arn=role_arn,
    )


# --- Lambda ------------------------------------------------------------------------------------

# https://docs.aws.amazon.com/lambda/latest/api/API_LoggingConfig.html
LOG_FORMATS = ("JSON", "Text")
APPLICATION_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
SYSTEM_LOG_LEVELS = ("DEBUG", "INFO", "WARN")
LOG_GROUP_PATTERN = re.compile(r"[\.\-_/#A-Za-z0-9]+")
LOG_GROUP_MAX = 512
LEVEL_KEYS = ("ApplicationLogLevel", "SystemLogLevel")
# https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html: levels
# need the JSON format; "The default application log level for log filtering is INFO" (system too).
DEFAULT_LOG_LEVEL = "INFO"
# AWS's answer to a level with the Text format (quoted in aws/aws-cdk#28045).
TEXT_WITH_LEVEL = (
    'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your request '
    'or change the LogFormat to "Json" and try again.'
)
# https://docs.aws.amazon.com/lambda/latest/api/API_ListFunctions.html: MaxItems 1..10,000,
# "ListFunctions returns a maximum of 50 items in each response, even if you set the number
# higher"; ListFunctions leaves out these FunctionConfiguration fields (use GetFunction).
LIST_MAX_ITEMS = 10_000
LIST_PAGE_MAX = 50
NOT_LISTED = (
    "State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
    "LastUpdateStatusReasonCode", "RuntimeVersionConfig",
)


def _lambda_violation(value, field, constraint):
    """Lambda answers a model constraint with ValidationException (as moto's InvalidRoleFormat)."""
    return LambdaClientError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: {constraint}",
    )


def _check_logging_request(requested):
    if not isinstance(requested, dict):
        raise InvalidParameterValueException("LoggingConfig must be an object")
    enums = (("LogFormat", LOG_FORMATS), ("ApplicationLogLevel", APPLICATION_LOG_LEVELS), ("SystemLogLevel", SYSTEM_LOG_LEVELS))
    for key, allowed in enums:
        value = requested.get(key)
        if value is not None and value not in allowed:
            field = "loggingConfig." + key[0].lower() + key[1:]
            raise _lambda_violation(value, field, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
    group = requested.get("LogGroup")
    if group is not None and not (1 <= len(group) <= LOG_GROUP_MAX and LOG_GROUP_PATTERN.fullmatch(group)):
        constraint = "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+ (length 1..512)"
        raise _lambda_violation(group, "loggingConfig.logGroup", constraint)


def logging_config(requested, current, function_name):
    """A function's LoggingConfig after CreateFunction (``current`` None) or an update: the fields
    asked for over the current ones, Text and /aws/lambda/<name> by default, levels (INFO by
    default) only with JSON. An update merges field by field (AWS does not say; see the doc)."""
    requested = {} if requested is None else requested
    _check_logging_request(requested)
    merged = dict(current or {})
    merged.update({k: v for k, v in requested.items() if v is not None and k in ("LogFormat", "LogGroup", *LEVEL_KEYS)})
    merged.setdefault("LogFormat", "Text")
    merged.setdefault("LogGroup", f"/aws/lambda/{function_name}")
    if merged["LogFormat"] == "Text":
        if any(requested.get(k) is not None for k in LEVEL_KEYS):
            raise InvalidParameterValueException(TEXT_WITH_LEVEL)
        for key in LEVEL_KEYS:
            merged.pop(key, None)
    else:
        for key in LEVEL_KEYS:
            merged.setdefault(key, DEFAULT_LOG_LEVEL)
    return merged


def _function_init(self, account_id, spec, region, version=1):
    config = logging_config(spec.get("LoggingConfig"), None, spec.get("FunctionName"))  # before moto stores anything
    _moto_function_init(self, account_id, spec, region, version)
    self._lakeops_logging = config
    self.logs_group_name = config["LogGroup"]  # invocations log where the function says


def _function_get_configuration(self, *args, **kwargs):
    # API_FunctionConfiguration: LoggingConfig in CreateFunction's, GetFunction's,
    # GetFunctionConfiguration's, UpdateFunctionConfiguration's and ListFunctions' answers.
    configuration = _moto_get_configuration(self, *args, **kwargs)
    config = getattr(self, "_lakeops_logging", None) or logging_config(None, None, self.function_name)
    configuration["LoggingConfig"] = dict(config)
    return configuration


def _function_update_configuration(self, config_updates):
    # API_UpdateFunctionConfiguration: LoggingConfig, checked before moto changes anything.
    if config_updates.get("LoggingConfig") is not None:
        current = getattr(self, "_lakeops_logging", None)
        config = logging_config(config_updates["LoggingConfig"], current, self.function_name)
        self._lakeops_logging = config
        self.logs_group_name = config["LogGroup"]
    return _moto_update_configuration(self, config_updates)


def _version_rank(version):
    return -1 if str(version) == "$LATEST" else int(str(version)) if str(version).isdigit() else 0


def _list_key(fn):
    return [fn.function_name, _version_rank(fn.version)]


def _marker(key):
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _marker_key(marker):
    try:
        key = json.loads(base64.urlsafe_b64decode(marker.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        key = None
    if not (isinstance(key, list) and len(key) == 2 and isinstance(key[0], str) and isinstance(key[1], int)):
        raise InvalidParameterValueException("Invalid Marker")
    return key


def _max_items(raw):
    if raw is None:
        return LIST_PAGE_MAX
    try:
        value = int(raw)
    except ValueError:
        raise _lambda_violation(raw, "maxItems", "Member must be an integer")
    if value < 1:
        raise _lambda_violation(raw, "maxItems", "Member must have value greater than or equal to 1")
    if value > LIST_MAX_ITEMS:
        raise _lambda_violation(raw, "maxItems", f"Member must have value less than or equal to {LIST_MAX_ITEMS}")
    return value


def _list_functions(self):
    """ListFunctions in pages of min(MaxItems, 50), by function name then version, each once."""
    query = self.querystring
    version = query.get("FunctionVersion", [None])[0]
    if version is not None and version != "ALL":
        raise _lambda_violation(version, "functionVersion", "Member must satisfy enum value set: [ALL]")
    page_size = min(_max_items(query.get("MaxItems", [None])[0]), LIST_PAGE_MAX)
    functions = sorted(self.backend.list_functions(version), key=_list_key)
    marker = query.get("Marker", [None])[0]
    if marker:
        after = _marker_key(marker)
        functions = [fn for fn in functions if _list_key(fn) > after]
    page = functions[:page_size]
    listed = []
    for fn in page:
        configuration = fn.get_configuration()
        listed.append({k: v for k, v in configuration.items() if k not in NOT_LISTED})
    answer = {"Functions": listed}
    if len(functions) > page_size:
        answer["NextMarker"] = _marker(_list_key(page[-1]))
    return json.dumps(answer)


_moto_create_log_group = LogsResponse.create_log_group
_moto_put_subscription_filter = LogsResponse.put_subscription_filter
_moto_group_to_describe_dict = LogGroup.to_describe_dict
_moto_function_init = LambdaFunction.__init__
_moto_get_configuration = LambdaFunction.get_configuration
_moto_update_configuration = LambdaFunction.update_configuration


def install():
    for name, member in list(vars(LakeopsLogs).items()):
        if not name.startswith("__"):
            setattr(LogsResponse, name, member)
    LogsBackend.describe_log_groups = describe_log_groups
    LogGroup.to_describe_dict = _group_to_describe_dict
    LogGroup.put_subscription_filter = _group_put_subscription_filter
    LambdaFunction.__init__ = _function_init
    LambdaFunction.get_configuration = _function_get_configuration
    LambdaFunction.update_configuration = _function_update_configuration
    LambdaResponse.list_functions = _list_functions
