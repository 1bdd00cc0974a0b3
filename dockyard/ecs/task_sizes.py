"""Task sizes: the task-level ``cpu`` and ``memory`` values ECS accepts, and Fargate's sizes.

RegisterTaskDefinition takes the task's cpu as CPU units or vCPUs ("1024", "1 vCPU",
"0.5 vcpu") and its memory as MiB or GB ("2048", "2 GB", "1GB"). ECS stores and returns
both as whole units in a string ("1024", "2048"); these functions do that conversion.
A value that can't be read is a malformed parameter (InvalidParameterException, as ECS).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from dockyard.errors import InvalidParameterException

CPU_UNITS_PER_VCPU = 1024
MIB_PER_GB = 1024
# Task-level cpu ECS accepts for EC2 and external instances (0.125 to 192 vCPUs).
TASK_CPU_RANGE = (128, 196608)

_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_CPU = re.compile(rf"^\s*{_NUMBER}\s*(vcpu)?\s*$", re.IGNORECASE)
_MEMORY = re.compile(rf"^\s*{_NUMBER}\s*(gb)?\s*$", re.IGNORECASE)


def _gb(low: int, high: int, step: int) -> frozenset[int]:
    return frozenset(range(low * MIB_PER_GB, high * MIB_PER_GB + 1, step * MIB_PER_GB))


# Fargate's task sizes: CPU units -> the memory sizes (MiB) allowed with it.
FARGATE_SIZES: dict[int, frozenset[int]] = {
    256: frozenset({512, 1024, 2048}),
    512: _gb(1, 4, 1),
    1024: _gb(2, 8, 1),
    2048: _gb(4, 16, 1),
    4096: _gb(8, 30, 1),
    8192: _gb(16, 60, 4),
    16384: _gb(32, 120, 8),
}


def _whole_units(value: str, pattern: re.Pattern[str], scale: int, member: str) -> int:
    match = pattern.match(value)
    invalid = InvalidParameterException(f"Invalid '{member}' setting for task.")
    if match is None:
        raise invalid
    number, unit = match.groups()
    try:
        amount = Decimal(number) * (scale if unit else 1)
    except InvalidOperation:
        raise invalid from None
    # Only whole units exist: "0.1 vCPU" (102.4 units) or "1.5" MiB name nothing ECS can run.
    if amount != amount.to_integral_value() or amount <= 0:
        raise invalid
    return int(amount)


def parse_cpu(value: str) -> int:
    """CPU units of a task-level cpu value: ``"1024"``, ``"1 vCPU"`` and ``"1vcpu"`` are 1024."""
    return _whole_units(value, _CPU, CPU_UNITS_PER_VCPU, "cpu")


def parse_memory(value: str) -> int:
    """MiB of a task-level memory value: ``"2048"``, ``"2 GB"`` and ``"2gb"`` are 2048."""
    return _whole_units(value, _MEMORY, MIB_PER_GB, "memory")


def fargate_size_exists(cpu: int, memory: int) -> bool:
    """Whether Fargate offers a task of ``cpu`` units and ``memory`` MiB."""
    return memory in FARGATE_SIZES.get(cpu, frozenset())
