"""Stream messages in and out: fields to validated rows, answers to result fields.

A message is either one input row, one field per column with Redis's string
values (converted by the signature's dtype here, then checked by the same
``RowValidator`` as REST requests, so the problems read the same), or a JSON
``inputs`` field holding one record or a list of records with typed values.
A message that cannot be read becomes a ``Rejected`` with the reason the
dead-letter stream records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import orjson

from shipyard.errors import InvalidInput
from shipyard.serving.model import PredictionOutput, ServedModel
from shipyard.serving.validation import RowValidator

INPUTS_FIELD = "inputs"
KEY_FIELD = "key"

# Dead-letter reasons (the ``reason`` field; the ``error`` field says more).
MALFORMED = "malformed"
INVALID = "invalid"
MODEL_ERROR = "model_error"
MAX_DELIVERIES = "max_deliveries"
PAYLOAD_LOST = "payload_lost"

Fields = dict[bytes, bytes]


@dataclass(frozen=True)
class Message:
    """One entry read from the stream, with how often the group has delivered it."""

    id: str
    fields: Fields
    deliveries: int = 1


@dataclass(frozen=True)
class Rejected:
    message: Message
    reason: str
    error: str


@dataclass(frozen=True)
class Parsed:
    message: Message
    rows: list[list[Any]]
    key: str | None


_TRUE = frozenset({"true", "1", "yes", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "f", "n"})
_NULL = frozenset({"", "null", "none", "nan"})


def _convert(dtype: str, text: str) -> Any:
    """Redis values are strings: read them as the column's type, or hand the text on
    unchanged so the validator names the problem as it would for a REST request."""
    if dtype == "string":
        return text
    if text.strip().lower() in _NULL:
        return None
    try:
        if dtype == "float64":
            return float(text)
        if dtype == "int64":
            try:
                return int(text)
            except ValueError:
                number = float(text)
                return int(number) if math.isfinite(number) and number.is_integer() else text
    except ValueError:
        return text
    if dtype == "bool":
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return text


class MessageReader:
    """Turns messages into validated rows for one model version's signature."""

    def __init__(self, validator: RowValidator, max_rows: int) -> None:
        self.validator = validator
        self.max_rows = max_rows
        self._dtypes = {spec.name: spec.dtype for spec in validator.signature.inputs}

    def read(self, message: Message) -> Parsed | Rejected:
        try:
            fields = {k.decode(): v.decode() for k, v in message.fields.items()}
        except UnicodeDecodeError as exc:
            return Rejected(message, MALFORMED, f"a field is not UTF-8 text: {exc}")
        if not fields:
            return Rejected(message, PAYLOAD_LOST, "the entry was trimmed from the stream")
        key = fields.pop(KEY_FIELD, None) if KEY_FIELD not in self._dtypes else None
        try:
            if INPUTS_FIELD in fields and INPUTS_FIELD not in self._dtypes:
                records = self._json_records(fields)
            else:
                records = [self._typed(fields)]
            rows = self.validator.rows_from_records(records)
        except _Malformed as exc:
            return Rejected(message, MALFORMED, str(exc))
        except InvalidInput as exc:
            return Rejected(message, INVALID, str(exc))
        return Parsed(message, rows, key)

    def _json_records(self, fields: dict[str, str]) -> list[Any]:
        extra = sorted(set(fields) - {INPUTS_FIELD})
        if extra:
            raise _Malformed(f"a message with an 'inputs' field has other fields too: {extra[:5]}")
        try:
            payload = orjson.loads(fields[INPUTS_FIELD])
        except orjson.JSONDecodeError as exc:
            raise _Malformed(f"the 'inputs' field is not valid JSON: {exc}") from exc
        records = [payload] if isinstance(payload, dict) else payload
        if not isinstance(records, list):
            raise _Malformed("the 'inputs' field must hold a record or a list of records")
        if len(records) > self.max_rows:
            raise _Malformed(f"the message has {len(records)} rows; the limit is {self.max_rows}")
        return records

    def _typed(self, fields: dict[str, str]) -> dict[str, Any]:
        dtypes = self._dtypes
        return {
            name: _convert(dtypes[name], text) if name in dtypes else text
            for name, text in fields.items()
        }


class _Malformed(Exception):
    """The message is not in either form a consumer reads."""


def result_fields(
    message_id: str, model: ServedModel, output: PredictionOutput, request_id: str
) -> dict[str, bytes | str | int]:
    """One output-stream entry: the answer keyed by the input message id."""
    fields: dict[str, bytes | str | int] = {
        "id": message_id,
        "predictions": orjson.dumps(output.predictions, option=orjson.OPT_SERIALIZE_NUMPY),
    }
    if output.probabilities is not None and model.classes is not None:
        fields["probabilities"] = orjson.dumps(output.probabilities)
        fields["classes"] = orjson.dumps(model.classes.tolist())
    fields["model"] = model.version.name
    fields["version"] = model.version.version
    fields["request_id"] = request_id
    return fields


def dead_letter_fields(rejected: Rejected, consumer: str) -> dict[str, bytes | str | int]:
    """One dead-letter entry: enough to see what came in, why it failed, and to replay it."""
    original = {
        k.decode(errors="backslashreplace"): v.decode(errors="backslashreplace")
        for k, v in rejected.message.fields.items()
    }
    return {
        "id": rejected.message.id,
        "reason": rejected.reason,
        "error": rejected.error,
        "deliveries": rejected.message.deliveries,
        "consumer": consumer,
        "fields": orjson.dumps(original),
    }
