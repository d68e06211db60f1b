"""SMS through AWS SNS (optional: needs boto3, ``pip install 'vaxport[aws]'``).

boto3 is synchronous; each publish runs in a worker thread. botocore's own retries are
off: retrying is the dispatcher's decision. SNS has no idempotency field for direct
SMS publishes, so a retry after a timeout may duplicate a message.
"""

from __future__ import annotations

import asyncio
from typing import Any

from vaxport.notifications.channels.base import (
    Channel,
    ChannelConfigError,
    OutgoingMessage,
    SendResult,
    read_secret,
)
from vaxport.tenancy.service import SnsOptions

_THROTTLED = {"Throttling", "ThrottlingException", "ThrottledException", "KMSThrottling"}
_SERVER = {"InternalError", "InternalFailure", "ServiceUnavailable"}
_AUTH = {
    "AuthorizationError",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "AccessDenied",
    "UnrecognizedClientException",
}


def boto3_available() -> bool:
    try:
        import boto3  # noqa: F401
    except ImportError:
        return False
    return True


class SnsChannel(Channel):
    """Publishes SMS directly to phone numbers through SNS."""

    type = "aws-sns"
    kinds = frozenset({"sms"})

    def __init__(self, name: str, options: SnsOptions) -> None:
        super().__init__(name)
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise ChannelConfigError(
                "aws-sns needs boto3: install the 'aws' extra (pip install 'vaxport[aws]')"
            ) from exc
        self.options = options
        key_id: str | None = None
        key_secret: str | None = None
        if options.access_key_id_env and options.secret_access_key_env:
            key_id = read_secret(options.access_key_id_env, option="access_key_id_env")
            key_secret = read_secret(options.secret_access_key_env, option="secret_access_key_env")
        config = Config(
            connect_timeout=min(options.timeout_seconds, 5),
            read_timeout=options.timeout_seconds,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )
        self._client: Any = boto3.session.Session().client(
            "sns",
            region_name=options.region,
            endpoint_url=options.endpoint_url,
            config=config,
            aws_access_key_id=key_id,
            aws_secret_access_key=key_secret,
        )
        attributes = {
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": options.sms_type}
        }
        if options.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {
                "DataType": "String",
                "StringValue": options.sender_id,
            }
        if options.origination_number:
            attributes["AWS.MM.SMS.OriginationNumber"] = {
                "DataType": "String",
                "StringValue": options.origination_number,
            }
        self._attributes = attributes

    async def _send(self, message: OutgoingMessage) -> SendResult:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        try:
            resp = await asyncio.to_thread(
                self._client.publish,
                PhoneNumber=message.to,
                Message=message.text,
                MessageAttributes=self._attributes,
            )
        except ClientError as exc:
            return _from_client_error(dict(exc.response))
        except (ConnectTimeoutError, ReadTimeoutError):
            return SendResult.transient("timeout")
        except EndpointConnectionError:
            return SendResult.transient("connection_failed")
        except NoCredentialsError:
            return SendResult.transient("auth_failed")
        except BotoCoreError:
            return SendResult.transient("transport_error")
        status = str(resp.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        return SendResult.sent(str(resp["MessageId"]), provider_status=status or None)

    async def aclose(self) -> None:
        await asyncio.to_thread(self._client.close)


def _from_client_error(response: dict[str, Any]) -> SendResult:
    code = str(response.get("Error", {}).get("Code", "Unknown"))
    http = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    status = str(http) if http else None
    reason = f"sns_{code}"
    if code in _THROTTLED or http == 429:
        return SendResult.transient("rate_limited", provider_status=status)
    if code in _AUTH:
        return SendResult.transient("auth_failed", provider_status=status)
    if code in _SERVER or http >= 500:
        return SendResult.transient(reason, provider_status=status)
    return SendResult.permanent(reason, provider_status=status)
