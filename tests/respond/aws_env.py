"""Build small AWS estates in moto for the action tests, and inject faults into botocore."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse

from trailguard.respond.clients.aws import AwsClient


@dataclass
class Estate:
    vpc: str
    subnet: str
    web_group: str
    admin_group: str
    instance: str


def build(aws: AwsClient, *, extra_interface: bool = False) -> Estate:
    ec2 = aws.sdk_client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    admin = ec2.create_security_group(GroupName="admin", Description="admin",
                                      VpcId=vpc)["GroupId"]
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
                                 InstanceType="t3.micro", SubnetId=subnet,
                                 SecurityGroupIds=[web, admin])["Instances"][0]["InstanceId"]
    if extra_interface:
        eni = ec2.create_network_interface(SubnetId=subnet, Groups=[web])
        ec2.attach_network_interface(NetworkInterfaceId=eni["NetworkInterface"][
            "NetworkInterfaceId"], InstanceId=instance, DeviceIndex=1)
    return Estate(vpc, subnet, web, admin, instance)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def fail_next(aws: AwsClient, service: str, operation: str, code: str, times: int) -> list[int]:
    """Make the next ``times`` calls of ``operation`` fail with the EC2 error ``code``
    (before moto sees them). Returns a list that counts the injected failures."""
    count: list[int] = []

    def handler(request: Any, **_: Any) -> AWSResponse | None:
        if len(count) >= times:
            return None
        count.append(1)
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>slow down</Message>"
                f"</Error></Errors><RequestID>req-{len(count)}</RequestID></Response>").encode()
        return AWSResponse(request.url, 503, {}, _Raw(body))

    aws.sdk_client(service).meta.events.register_first(f"before-send.{service}.{operation}",
                                                       handler)
    return count


def time_out(aws: AwsClient, service: str, operation: str) -> None:
    from botocore.exceptions import ReadTimeoutError

    def handler(request: Any, **_: Any) -> None:
        raise ReadTimeoutError(endpoint_url=request.url)

    aws.sdk_client(service).meta.events.register_first(f"before-send.{service}.{operation}",
                                                       handler)
