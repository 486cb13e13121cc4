"""Message and record size limits of SQS, SNS and Firehose, as AWS documents them.

moto checks these loosely or not at all: it counts SQS and SNS message bodies in characters,
not UTF-8 bytes, leaves message attributes out of the size, ignores an SNS topic's
``MaximumMessageSize`` and does not limit Firehose batches at all. Each check below answers with
the error code AWS uses, raised as moto's own exception class so moto serializes it in the
service's protocol. docs/emulator-contract.md lists every limit with its AWS source.
"""

import base64

from moto.firehose.exceptions import InvalidArgumentException
from moto.firehose.exceptions import ValidationException as FirehoseValidationException
from moto.firehose.responses import FirehoseResponse
import moto.sns.models as sns_models
from moto.sns.exceptions import InvalidParameterValue as SnsInvalidParameter
from moto.sns.responses import SNSResponse
from moto.sqs.exceptions import BatchRequestTooLong, TooManyEntriesInBatchRequest
from moto.sqs.exceptions import InvalidParameterValue as SqsInvalidParameterValue
from moto.sqs.responses import SQSResponse

# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessageBatch.html
SQS_BATCH_MAX_ENTRIES = 10
SQS_BATCH_MAX_BYTES = 1024 * 1024
# https://docs.aws.amazon.com/sns/latest/api/API_Publish.html (default of the topic's MaximumMessageSize)
SNS_DEFAULT_MAX_BYTES = 256 * 1024
SNS_TOPIC_MAX_BYTES = 1024 * 1024
# https://docs.aws.amazon.com/firehose/latest/APIReference/API_PutRecordBatch.html
FIREHOSE_BATCH_MAX_RECORDS = 500
FIREHOSE_RECORD_MAX_BYTES = 1000 * 1024
FIREHOSE_BATCH_MAX_BYTES = 4 * 1024 * 1024


def _bytes(value):
    """Size of a text (UTF-8) or a blob (raw, or base64 text as it came over the wire)."""
    if value is None:
        return 0
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    return len(str(value).encode("utf-8"))


def _blob_bytes(value):
    if isinstance(value, (bytes, bytearray)) or value is None:
        return _bytes(value)
    try:
        return len(base64.b64decode(value, validate=True))
    except ValueError:
        return _bytes(value)


def _attributes_size(attributes):
    """SQS and SNS count every part of a message attribute: name, data type and value."""
    size = 0
    for name, attribute in (attributes or {}).items():
        if not isinstance(attribute, dict):
            continue
        size += _bytes(name) + _bytes(attribute.get("DataType"))
        size += _bytes(attribute.get("StringValue")) + _blob_bytes(attribute.get("BinaryValue"))
    return size


# --- SQS -----------------------------------------------------------------------------------------


def _sqs_queue_limit(response):
    queue = response.sqs_backend.get_queue(response._get_queue_name())
    return int(queue.maximum_message_size)


def _sqs_too_long(limit):
    return SqsInvalidParameterValue(
        f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
    )


def _sqs_send_message(self):
    limit = _sqs_queue_limit(self)
    size = _bytes(self._get_param("MessageBody")) + _attributes_size(self._get_param("MessageAttributes", {}))
    if size > limit:
        raise _sqs_too_long(limit)
    return _moto_sqs_send_message(self)


def _sqs_send_message_batch(self):
    entries = self._get_param("Entries", []) or []
    if len(entries) > SQS_BATCH_MAX_ENTRIES:
        raise TooManyEntriesInBatchRequest(len(entries))
    limit = _sqs_queue_limit(self)
    sizes = [_bytes(e.get("MessageBody")) + _attributes_size(e.get("MessageAttributes")) for e in entries]
    if sum(sizes) > SQS_BATCH_MAX_BYTES:
        raise BatchRequestTooLong(sum(sizes))
    if any(size > limit for size in sizes):
        raise _sqs_too_long(limit)
    return _moto_sqs_send_message_batch(self)


# --- SNS -----------------------------------------------------------------------------------------


def _sns_topic_limit(backend, arn):
    topic = backend.topics.get(arn) if arn else None
    value = getattr(topic, "maximum_message_size", None) or getattr(topic, "MaximumMessageSize", None)
    return int(value) if value else SNS_DEFAULT_MAX_BYTES


def _sns_publish(self):
    if self._get_param("PhoneNumber") is None:
        arn = self._get_param("TopicArn") or self._get_param("TargetArn")
        limit = _sns_topic_limit(self.backend, arn)
        size = _bytes(self._get_param("Message")) + _attributes_size(self._get_param("MessageAttributes", {}))
        if size > limit:
            raise SnsInvalidParameter("Invalid parameter: Message too long")
    return _moto_sns_publish(self)


# --- Firehose ------------------------------------------------------------------------------------


def _firehose_record_errors(records):
    """AWS's constraint errors for records over 1,000 KiB (ValidationException, one line each)."""
    errors = []
    for i, record in enumerate(records):
        size = _blob_bytes(record.get("Data"))
        if size > FIREHOSE_RECORD_MAX_BYTES:
            errors.append(
                f"Value of {size} bytes at 'records.{i + 1}.member.data' failed to satisfy constraint: "
                f"Member must have length less than or equal to {FIREHOSE_RECORD_MAX_BYTES}"
            )
    return errors


def _validation(errors):
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return FirehoseValidationException(f"{count} validation {noun} detected: " + "; ".join(errors))


def _firehose_put_record(self):
    errors = [e.replace("records.1.member.data", "record.data") for e in _firehose_record_errors([self._get_param("Record") or {}])]
    if errors:
        raise _validation(errors)
    return _moto_firehose_put_record(self)


def _firehose_put_record_batch(self):
    records = self._get_param("Records") or []
    errors = []
    if len(records) > FIREHOSE_BATCH_MAX_RECORDS:
        errors.append(
            f"Value at 'records' failed to satisfy constraint: Member must have length less than or "
            f"equal to {FIREHOSE_BATCH_MAX_RECORDS}"
        )
    errors += _firehose_record_errors(records)
    if errors:
        raise _validation(errors)
    total = sum(_blob_bytes(r.get("Data")) for r in records)
    if total > FIREHOSE_BATCH_MAX_BYTES:
        raise InvalidArgumentException(
            f"The records add up to {total} bytes, more than the {FIREHOSE_BATCH_MAX_BYTES} bytes (4 MiB) of a call"
        )
    return _moto_firehose_put_record_batch(self)


_moto_sqs_send_message = SQSResponse.send_message
_moto_sqs_send_message_batch = SQSResponse.send_message_batch
_moto_sns_publish = SNSResponse.publish
_moto_firehose_put_record = FirehoseResponse.put_record
_moto_firehose_put_record_batch = FirehoseResponse.put_record_batch


def install():
    # The checks above apply each topic's own limit; moto's fixed 256 KiB (in characters) would
    # refuse what a topic with a larger MaximumMessageSize (up to 1 MiB) accepts.
    sns_models.MAXIMUM_MESSAGE_LENGTH = SNS_TOPIC_MAX_BYTES
    SQSResponse.send_message = _sqs_send_message
    SQSResponse.send_message_batch = _sqs_send_message_batch
    SNSResponse.publish = _sns_publish
    FirehoseResponse.put_record = _firehose_put_record
    FirehoseResponse.put_record_batch = _firehose_put_record_batch
