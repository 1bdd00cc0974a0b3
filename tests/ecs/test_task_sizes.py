"""Task-level cpu and memory values, and Fargate's task sizes (no server)."""

from __future__ import annotations

import pytest

from dockyard.ecs import task_sizes
from dockyard.errors import InvalidParameterException


@pytest.mark.parametrize(
    ("value", "units"),
    [
        ("256", 256),
        ("1024", 1024),
        ("1 vCPU", 1024),
        ("1vcpu", 1024),
        ("0.5 vcpu", 512),
        (".25 VCPU", 256),
        (" 2 vCPU ", 2048),
        ("16 vCPU", 16384),
    ],
)
def test_cpu_reads_units_and_vcpus(value: str, units: int) -> None:
    assert task_sizes.parse_cpu(value) == units


@pytest.mark.parametrize(
    "value", ["", " ", "abc", "1.5", "0.1 vcpu", "0", "0 vcpu", "-256", "1 cpu", "1 GB", "1e3"]
)
def test_cpu_that_names_no_whole_number_of_units_is_invalid(value: str) -> None:
    with pytest.raises(InvalidParameterException, match="Invalid 'cpu' setting for task."):
        task_sizes.parse_cpu(value)


@pytest.mark.parametrize(
    ("value", "mib"),
    [
        ("512", 512),
        ("2 GB", 2048),
        ("1GB", 1024),
        ("0.5GB", 512),
        ("2 gb", 2048),
        ("120 GB", 122880),
    ],
)
def test_memory_reads_mib_and_gb(value: str, mib: int) -> None:
    assert task_sizes.parse_memory(value) == mib


@pytest.mark.parametrize("value", ["", "x", "1.5", "1 MB", "0", "1 TB", "0.0001 GB", "GB"])
def test_memory_that_names_no_whole_number_of_mib_is_invalid(value: str) -> None:
    with pytest.raises(InvalidParameterException, match="Invalid 'memory' setting for task."):
        task_sizes.parse_memory(value)


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [
        (256, 512),
        (256, 1024),
        (256, 2048),
        (512, 1024),
        (512, 4096),
        (1024, 2048),
        (1024, 8192),
        (2048, 4096),
        (2048, 9216),
        (2048, 16384),
        (4096, 8192),
        (4096, 30720),
        (8192, 16384),
        (8192, 20480),
        (8192, 61440),
        (16384, 32768),
        (16384, 40960),
        (16384, 122880),
    ],
)
def test_fargate_offers_these_sizes(cpu: int, memory: int) -> None:
    assert task_sizes.fargate_size_exists(cpu, memory)


@pytest.mark.parametrize(
    ("cpu", "memory"),
    [
        (256, 256),
        (256, 3072),
        (512, 512),
        (512, 5120),
        (1024, 1024),
        (1024, 9216),
        (2048, 3072),
        (2048, 17408),
        (4096, 7168),
        (4096, 31744),
        (8192, 18432),
        (8192, 65536),
        (16384, 36864),
        (16384, 131072),
        (128, 512),
        (1000, 2048),
        (32768, 65536),
    ],
)
def test_fargate_has_no_other_sizes(cpu: int, memory: int) -> None:
    assert not task_sizes.fargate_size_exists(cpu, memory)
